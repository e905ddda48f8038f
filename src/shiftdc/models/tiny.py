"""Tiny random checkpoints, one builder per family, saved with save_pretrained.

They load through `load_vlm(DIR)` exactly like a hub model and need no network. They
show mechanics, not behaviour: their weights are random. BUILDERS has one builder for
each name of `models.registry.families()` (Qwen2-VL and Qwen2.5-VL each have one).
Every one has a 4-layer, 32-wide text decoder, images of a few
pixels giving a handful of image tokens, and its family's real processor class with a
chat template.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from shiftdc.models.processing import image_only, video_backend_available
from shiftdc.models.tiny_common import chat_template, word_tokenizer
from shiftdc.registry import lookup

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


def _save(out: Path, model, processor) -> None:
    model.save_pretrained(out)
    processor.save_pretrained(out)


def _llava_like(
    out: Path, classes: tuple, image_processor, text: dict, vision: dict, **cfg
) -> None:
    """A LLaVA-style checkpoint: llama decoder, CLIP tower, one `<image>` placeholder.

    `classes` is (config, model, processor); `cfg` adds family-specific config fields.
    """
    config_cls, model_cls, processor_cls = classes
    tok = word_tokenizer(["<image>"])
    config = config_cls(
        text_config=dict(model_type="llama", **text, **_special_ids(tok)),
        vision_config=vision,
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        **cfg,
    )
    processor = processor_cls(
        image_processor=image_processor,
        tokenizer=tok,
        patch_size=vision["patch_size"],
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=chat_template("<image>"),
    )
    _save(out, model_cls(config), processor)


def llava_checkpoint(out: Path, text: dict, vision: dict) -> None:
    """Save a random LLaVA of the given text and CLIP vision config (square images of
    `vision["image_size"]` pixels) with the offline tokenizer and chat template."""
    from transformers import (
        CLIPImageProcessor,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    size = vision["image_size"]
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size}
    )
    classes = (LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor)
    _llava_like(out, classes, image_processor, text, vision)


def _llava(out: Path) -> None:
    llava_checkpoint(out, TEXT, _vision("clip_vision_model", image_size=8, patch_size=2))


def _vision(model_type: str, image_size: int, patch_size: int) -> dict:
    """A two-layer vision tower config (CLIP or SigLIP) of the given geometry."""
    return dict(
        model_type=model_type,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=image_size,
        patch_size=patch_size,
    )


def _llava_next(out: Path) -> None:
    from transformers import (
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessorPil,
        LlavaNextProcessor,
    )

    # 4x4 tiles of 2x2-pixel patches: 4 base tokens + a few tokens per high-res tile row
    pinpoints = [[4, 8], [8, 4]]
    image_processor = LlavaNextImageProcessorPil(
        size={"shortest_edge": 4},
        crop_size={"height": 4, "width": 4},
        image_grid_pinpoints=pinpoints,
    )
    _llava_like(
        out,
        (LlavaNextConfig, LlavaNextForConditionalGeneration, LlavaNextProcessor),
        image_processor,
        TEXT,
        _vision("clip_vision_model", image_size=4, patch_size=2),
        image_grid_pinpoints=pinpoints,
        image_seq_length=4,
    )


QWEN_SPECIALS = ["<|vision_start|>", "<|image_pad|>", "<|vision_end|>", "<|video_pad|>"]


def _qwen_vl(out: Path, version: str) -> None:
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessorPil,
        Qwen2VLProcessor,
    )

    tok = word_tokenizer(QWEN_SPECIALS)
    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN_SPECIALS}
    # head_dim 8 -> 4 rotary frequencies split over (time, height, width)
    rope = dict(rope_type="default", rope_theta=10000.0, mrope_section=[2, 1, 1])
    vision = dict(depth=2, num_heads=2, patch_size=2, spatial_merge_size=2, temporal_patch_size=2)
    if version == "2":
        cfg_cls, model_cls = Qwen2VLConfig, Qwen2VLForConditionalGeneration
        proc_cls = Qwen2VLProcessor
        vision.update(embed_dim=16, hidden_size=TEXT["hidden_size"], mlp_ratio=2)
        text_type = "qwen2_vl_text"
    else:
        cfg_cls, model_cls = Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
        proc_cls = Qwen2_5_VLProcessor
        vision.update(
            hidden_size=16,
            intermediate_size=32,
            out_hidden_size=TEXT["hidden_size"],
            window_size=8,
            fullatt_block_indexes=[1],
        )
        text_type = "qwen2_5_vl_text"
    cfg = cfg_cls(
        text_config=dict(model_type=text_type, **TEXT, **_special_ids(tok), rope_parameters=rope),
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    model = model_cls(cfg)
    # 4x4-pixel merged patches, at most 12x12 pixels: 1 to 9 image tokens per image
    image_processor = Qwen2VLImageProcessorPil(
        size={"shortest_edge": 4 * 4, "longest_edge": 12 * 12},
        patch_size=2,
        temporal_patch_size=2,
        merge_size=2,
    )
    template = chat_template("<|vision_start|><|image_pad|><|vision_end|>")
    if video_backend_available():
        from transformers import Qwen2VLVideoProcessor

        video = Qwen2VLVideoProcessor(
            size={"shortest_edge": 4 * 4, "longest_edge": 12 * 12 * 2},
            patch_size=2,
            temporal_patch_size=2,
            merge_size=2,
        )
        processor = proc_cls(image_processor, tok, video, chat_template=template)
    else:
        processor = image_only(proc_cls)(image_processor, tok, chat_template=template)
    _save(out, model, processor)


def _qwen2_vl(out: Path) -> None:
    _qwen_vl(out, "2")


def _qwen2_5_vl(out: Path) -> None:
    _qwen_vl(out, "2.5")


def _idefics3(out: Path) -> None:
    import transformers as tf

    classes = (tf.Idefics3Config, tf.Idefics3ForConditionalGeneration, tf.Idefics3ImageProcessorPil)
    idefics_checkpoint(out, (*classes, tf.Idefics3Processor))


def idefics_checkpoint(out: Path, classes: tuple) -> None:
    """An Idefics3-layout checkpoint (Idefics3 or SmolVLM): llama decoder, images split into
    tiles plus a global view, `classes` = (config, model, image processor, processor)."""
    config_cls, model_cls, image_processor_cls, processor_cls = classes
    grid = [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
    specials = ["<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>"]
    tok = word_tokenizer(specials + grid)
    # 8x8-pixel tiles of 2x2 patches, pixel-shuffled by 2: 4 image tokens per tile;
    # images up to 16 pixels are split into up to 2x2 tiles plus a global view
    cfg = config_cls(
        text_config=dict(model_type="llama", **TEXT, **_special_ids(tok)),
        vision_config=dict(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=8,
            patch_size=2,
        ),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        scale_factor=2,
        pad_token_id=tok.pad_token_id,
    )
    model = model_cls(cfg)
    image_processor = image_processor_cls(
        size={"longest_edge": 16}, max_image_size={"longest_edge": 8}, do_image_splitting=True
    )
    processor = processor_cls(
        image_processor=image_processor,
        tokenizer=tok,
        image_seq_len=4,
        chat_template=chat_template("<image>"),
    )
    _save(out, model, processor)


def _gemma3(out: Path) -> None:
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessorPil,
        Gemma3Processor,
    )

    boi, eoi, soft = "<start_of_image>", "<end_of_image>", "<image_soft_token>"
    tok = word_tokenizer(
        [boi, eoi, soft],
        extra_special_tokens={"boi_token": boi, "eoi_token": eoi, "image_token": soft},
    )
    ids = {t: tok.convert_tokens_to_ids(t) for t in (boi, eoi, soft)}
    text = dict(TEXT, head_dim=8, query_pre_attn_scalar=8)
    # a sliding window shorter than the prompts, so the tests cover the sliding-window cache
    text.update(
        sliding_window=6,
        layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
    )
    # 8x8 images of 2x2 patches (4x4 grid), average-pooled to 2x2: 4 image tokens
    cfg = Gemma3Config(
        text_config=dict(model_type="gemma3_text", **text, **_special_ids(tok)),
        vision_config=_vision("siglip_vision_model", image_size=8, patch_size=2),
        mm_tokens_per_image=4,
        boi_token_index=ids[boi],
        eoi_token_index=ids[eoi],
        image_token_index=ids[soft],
    )
    model = Gemma3ForConditionalGeneration(cfg)
    image_processor = Gemma3ImageProcessorPil(size={"height": 8, "width": 8}, do_pan_and_scan=False)
    processor = Gemma3Processor(
        image_processor=image_processor,
        tokenizer=tok,
        image_seq_length=4,
        chat_template=chat_template(boi),
    )
    _save(out, model, processor)


def _paligemma(out: Path) -> None:
    from transformers import (
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
        SiglipImageProcessorPil,
    )

    tok = word_tokenizer(["<image>"])
    # 4x4 images of 2x2 patches: 4 image tokens
    image_processor = SiglipImageProcessorPil(size={"height": 4, "width": 4})
    image_processor.image_seq_length = 4
    # the processor adds PaliGemma's <loc>/<seg> tokens to the tokenizer: size the vocab after
    processor = PaliGemmaProcessor(
        image_processor=image_processor, tokenizer=tok, chat_template=chat_template("<image>")
    )
    text = dict(TEXT, head_dim=8, **_special_ids(tok))
    cfg = PaliGemmaConfig(
        text_config=dict(model_type="gemma", **text),
        vision_config=dict(
            _vision("siglip_vision_model", image_size=4, patch_size=2), vision_use_head=False
        ),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        vocab_size=len(tok),
        projection_dim=TEXT["hidden_size"],
        hidden_size=TEXT["hidden_size"],
    )
    model = PaliGemmaForConditionalGeneration(cfg)
    _save(out, model, processor)


BUILDERS: dict[str, Callable[[Path], None]] = {
    "llava": _llava,
    "llava_next": _llava_next,
    "qwen2_vl": _qwen2_vl,
    "qwen2_5_vl": _qwen2_5_vl,
    "idefics3": _idefics3,
    "gemma3": _gemma3,
    "paligemma": _paligemma,
}


def _recent(family: str) -> Callable[[Path], None]:
    def build(out: Path) -> None:
        from shiftdc.models import tiny_recent

        getattr(tiny_recent, f"_{family}")(out)

    return build


RECENT = (
    "qwen3_vl",
    "qwen3_vl_moe",
    "qwen3_5",
    "llava_onevision",
    "internvl",
    "glm4v",
    "gemma4",
    "smolvlm",
    "mllama",
    "mistral3",
    "llama4",
    "lfm2_vl",
)
BUILDERS.update({family: _recent(family) for family in RECENT})  # in models/tiny_recent.py


def make_tiny_model(family: str, out: str | Path, seed: int = 0) -> Path:
    """Build and save a tiny random checkpoint of `family` (one of `families()`) into `out`."""
    from shiftdc.models.families import adapter_for_family, check_available

    builder = lookup(BUILDERS, family, "family")
    check_available(adapter_for_family(family))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    builder(out)
    return out
