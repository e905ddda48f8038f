"""Real model shapes built in memory: random weights made directly on the device, no files.

`llava-7b` is LLaVA-1.5-7B's geometry: a Vicuna-7B decoder (32 x 4096, MLP 11008, 32 heads,
32000-token vocabulary) behind CLIP ViT-L/14-336 (24 x 1024, 576 image tokens) and the
two-layer GELU projector, reading the penultimate vision layer.
"""

from __future__ import annotations

import torch

from shiftdc.models.families import adapter_for_model_type
from shiftdc.models.loading import VLM
from shiftdc.models.tiny_common import chat_template, word_tokenizer

SHAPES = {
    "llava-7b": dict(
        image_size=336,
        patch_size=14,
        vision_hidden=1024,
        vision_layers=24,
        vision_intermediate=4096,
        vision_heads=16,
        text_hidden=4096,
        text_layers=32,
        text_intermediate=11008,
        heads=32,
        vocab=32000,
        feature_layer=-2,
    ),
}


def build_in_memory(shape: str, device: str, dtype: torch.dtype, seed: int = 0) -> VLM:
    """A random LLaVA of the named shape, created on `device` in `dtype` (nothing on disk)."""
    from transformers import (
        CLIPImageProcessor,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    spec = SHAPES[shape]
    tok = word_tokenizer(["<image>"])
    size, patch = spec["image_size"], spec["patch_size"]
    cfg = LlavaConfig(
        text_config=dict(
            model_type="llama",
            hidden_size=spec["text_hidden"],
            intermediate_size=spec["text_intermediate"],
            num_hidden_layers=spec["text_layers"],
            num_attention_heads=spec["heads"],
            num_key_value_heads=spec["heads"],
            max_position_embeddings=4096,
            vocab_size=max(spec["vocab"], len(tok)),  # ids past the word list decode to ""
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
        ),
        vision_config=dict(
            model_type="clip_vision_model",
            hidden_size=spec["vision_hidden"],
            intermediate_size=spec["vision_intermediate"],
            num_hidden_layers=spec["vision_layers"],
            num_attention_heads=spec["vision_heads"],
            image_size=size,
            patch_size=patch,
        ),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=spec["feature_layer"],
    )
    torch.manual_seed(seed)
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = LlavaForConditionalGeneration(cfg)
    finally:
        torch.set_default_dtype(old)
    model.eval()
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": size}, crop_size={"height": size, "width": size}
        ),
        tokenizer=tok,
        patch_size=patch,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=chat_template("<image>"),
    )
    tok.padding_side = "left"
    adapter = adapter_for_model_type("llava")
    return VLM(
        model=model,
        processor=processor,
        adapter=adapter(model, processor),
        name=f"random {shape} (in memory)",
    )
