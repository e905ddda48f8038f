"""Tiny random checkpoints, one builder per family, saved with save_pretrained.

They load through `load_vlm(DIR)` exactly like a hub model and need no network. They
show mechanics, not behaviour: their weights are random.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from shiftdc.models.tiny_common import chat_template, word_tokenizer

# Small text decoder shared by the families (sizes tuned for fast CPU tests).
TEXT = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=1024,
)


def _special_ids(tok) -> dict[str, int]:
    return dict(
        vocab_size=len(tok),
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )


def _llava(out: Path) -> None:
    from transformers import (
        CLIPImageProcessor,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tok = word_tokenizer(["<image>"])
    cfg = LlavaConfig(
        text_config=dict(model_type="llama", **TEXT, **_special_ids(tok)),
        vision_config=dict(
            model_type="clip_vision_model",
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=8,
            patch_size=2,
        ),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    model = LlavaForConditionalGeneration(cfg)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 8}, crop_size={"height": 8, "width": 8}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tok,
        patch_size=2,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=chat_template("<image>"),
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)


BUILDERS: dict[str, Callable[[Path], None]] = {
    "llava": _llava,
}


def make_tiny_model(family: str, out: str | Path, seed: int = 0) -> Path:
    """Build and save a tiny random checkpoint of `family` into `out`; return the path."""
    if family not in BUILDERS:
        raise ValueError(
            f"no tiny builder for family {family!r}; available: {', '.join(sorted(BUILDERS))}"
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    BUILDERS[family](out)
    return out
