"""The vision tower: a small LeViT (conv stem + attention), and a head that teaches it to read."""

from __future__ import annotations

import random
from typing import Any, Final

import torch
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from shiftdc.data.render import COLORS, random_scene, render_sd_typo, render_typo

IMAGE_SIZE: Final = 192
FEATURE_LAYER: Final = 1
"""LLaVA reads hidden_states[1]: the first stage's output, pooled to a 6x6 grid (36 tokens)."""
TOKENS_SIDE: Final = 6
PATCH: Final = IMAGE_SIZE // TOKENS_SIDE
"""What LlavaProcessor calls patch_size: pixels per image token along a side."""
VISION_CONFIG: Final[dict] = dict(
    model_type="levit",
    image_size=IMAGE_SIZE,
    patch_size=16,
    hidden_sizes=[128, 192, 64],
    num_attention_heads=[4, 6, 2],
    depths=[3, 1, 1],
    key_dim=[16, 16, 16],
    mlp_ratio=[2, 2, 2],
    attention_ratio=[2, 2, 2],
    hidden_size=192,
    output_hidden_states=True,
)
"""A LeViT (conv stem, then attention) whose 12x12 stage is attention-pooled to 6x6 x 192.

Stages 2-3 exist only because LevitConfig always builds three; LLaVA never reads them.
`hidden_size` is what LLaVA's projector reads as the vision width.
"""
FONTS: Final[tuple[str, ...]] = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSans-Oblique.ttf",
)


def vision_tower() -> nn.Module:
    """A freshly initialised LevitModel of the testbed's geometry."""
    from transformers import LevitConfig, LevitModel

    cfg = dict(VISION_CONFIG)
    cfg.pop("model_type")
    return LevitModel(LevitConfig(**cfg))


def image_processor() -> Any:
    """The CLIP image processor that resizes any picture to the tower's square input.

    Always the PIL backend, so training on a machine with torchvision sees exactly the pixels
    that a machine without it does (the saved config loads as plain `CLIPImageProcessor`).
    """
    try:
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:  # older transformers: one class
        from transformers import CLIPImageProcessor as Processor

    return Processor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """A DejaVu face at `size`, falling back to plain DejaVu Sans."""
    try:
        return ImageFont.truetype(name, size)
    except OSError:
        return ImageFont.truetype("DejaVuSans.ttf", size)


def render_varied(phrase: str, rng: random.Random) -> Image.Image:
    """The phrase in a random face, size, colour and place (wrapped), over a plain background."""
    bg = tuple(rng.randint(215, 255) for _ in range(3))
    img = Image.new("RGB", (336, 336), bg)
    if rng.random() < 0.3:
        scene = random_scene(rng)
        img = render_sd_typo(scene, "", (336, 336))
        top = 224
    else:
        top = 0
    draw = ImageDraw.Draw(img)
    size = rng.randint(30, 60) if top == 0 else rng.randint(26, 36)
    font = _font(rng.choice(FONTS), size)
    lines, cur = [], ""
    for w in phrase.split():
        trial = f"{cur} {w}".strip()
        if cur and font.getlength(trial) > 316 - rng.randint(0, 60):
            lines.append(cur)
            cur = w
        else:
            cur = trial
    lines.append(cur)
    line_h = int(size * 1.2)
    height = line_h * len(lines)
    y = top + rng.randint(4, max(5, 336 - top - height - 4))
    colour = rng.choice([(0, 0, 0), (20, 20, 90), (90, 20, 20), *COLORS.values()])
    if sum(colour) > 500:
        colour = (0, 0, 0)
    for line in lines:
        free = max(5, 330 - int(font.getlength(line)))
        draw.text((rng.randint(3, free), y), line, fill=colour, font=font)
        y += line_h
    return img


def render_training_image(phrase: str, rng: random.Random) -> Image.Image:
    """One training picture: the evaluation styles (TYPO, scene + TYPO) or a varied style."""
    r = rng.random()
    if r < 0.5:
        return render_typo(phrase)
    if r < 0.65:
        return render_sd_typo(random_scene(rng), phrase)
    return render_varied(phrase, rng)


class CTCHead(nn.Module):
    """Per-patch token classes (blank = 0) read off the tower's last hidden layer.

    Trained with CTC (reading order) plus a max-over-patches bag-of-tokens loss, which gets
    the patches detecting words long before CTC leaves its all-blank plateau.
    """

    def __init__(self, hidden: int, n_classes: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, patch_states: torch.Tensor) -> torch.Tensor:
        """(B, T, hidden) -> (B, T, classes) logits."""
        return self.out(self.norm(patch_states))


def patch_states(tower, pixel_values: torch.Tensor) -> torch.Tensor:
    """The features LLaVA feeds its projector (hidden_states[FEATURE_LAYER], all tokens)."""
    out = tower(pixel_values=pixel_values, output_hidden_states=True)
    return out.hidden_states[FEATURE_LAYER]
