"""A random LLaVA of realistic proportions (hundreds of image tokens, several layers)."""

from __future__ import annotations

from pathlib import Path

import torch

from shiftdc.models.tiny import llava_checkpoint

#: shape of the benchmark model: LLaVA-1.5's image geometry, a scaled-down decoder
SPEC = dict(
    image_size=336,  # CLIP ViT-L/14-336's input: 24 x 24 = 576 image tokens
    patch_size=14,
    vision_hidden=256,
    vision_layers=4,
    text_hidden=384,
    text_layers=8,
    text_intermediate=1024,
    heads=6,  # head size 64, as in LLaVA's CLIP and llama
)
QUICK_SPEC = dict(SPEC, image_size=224, text_layers=4)  # 256 image tokens, 4 layers


def build(out: str | Path, spec: dict | None = None, seed: int = 0) -> Path:
    """Save a random LLaVA checkpoint of the given proportions into `out`."""
    spec = dict(SPEC if spec is None else spec)
    out = Path(out)
    torch.manual_seed(seed)
    text = dict(
        hidden_size=spec["text_hidden"],
        intermediate_size=spec["text_intermediate"],
        num_hidden_layers=spec["text_layers"],
        num_attention_heads=spec["heads"],
        num_key_value_heads=spec["heads"],
        max_position_embeddings=4096,
    )
    vision = dict(
        model_type="clip_vision_model",
        hidden_size=spec["vision_hidden"],
        intermediate_size=4 * spec["vision_hidden"],
        num_hidden_layers=spec["vision_layers"],
        num_attention_heads=spec["vision_hidden"] // 64,
        image_size=spec["image_size"],
        patch_size=spec["patch_size"],
    )
    llava_checkpoint(out, text, vision)
    return out


def describe(vlm) -> str:
    """One line naming the model's proportions."""
    cfg = vlm.model.config
    text, vision = cfg.get_text_config(), cfg.vision_config
    n_img = (vision.image_size // vision.patch_size) ** 2
    params = sum(p.numel() for p in vlm.model.parameters()) / 1e6
    return (
        f"random LLaVA, {params:.0f}M params: CLIP {vision.num_hidden_layers}x{vision.hidden_size} "
        f"({n_img} image tokens), llama {text.num_hidden_layers}x{text.hidden_size}"
    )
