"""Deterministic PIL drawings for the built-in suite: typed phrases, scenes, FigStep lists.

The "scene" is a few flat shapes on a sky/ground background. It stands in for the
Stable Diffusion picture of MM-SafetyBench's SD variant and, unlike that picture,
carries nothing of the request: it only gives the model a real image to look at.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from PIL import Image, ImageDraw, ImageFont

Size = tuple[int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
DEFAULT_SIZE: Final[Size] = (336, 336)

COLORS: Final[dict[str, tuple[int, int, int]]] = {
    "red": (215, 35, 35),
    "green": (40, 160, 60),
    "blue": (35, 75, 215),
    "yellow": (240, 205, 25),
    "orange": (245, 135, 25),
    "purple": (135, 55, 180),
}
SHAPES: Final[tuple[str, ...]] = ("circle", "square", "triangle")
_SKIES: Final[dict[str, tuple[int, int, int]]] = {
    "light blue": (170, 210, 240),
    "pale grey": (215, 215, 220),
    "pink": (240, 195, 200),
}
_GROUNDS: Final[dict[str, tuple[int, int, int]]] = {
    "green grass": (110, 175, 90),
    "brown earth": (150, 115, 80),
    "yellow sand": (225, 205, 150),
}
_FONT_FILES: Final[tuple[str, ...]] = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")


@lru_cache(maxsize=128)
def load_font(size: int) -> Font:
    """DejaVu Sans at `size` px if installed, else PIL's bundled default font."""
    for name in _FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _wrap(words: list[str], font: Font, width: int) -> list[str]:
    """Greedy word wrap; a single word wider than `width` stays on its own line."""
    lines: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}".strip()
        if not current or font.getlength(trial) <= width:
            current = trial
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def fit_text(text: str, box: Size, max_size: int, min_size: int = 8) -> tuple[Font, list[str]]:
    """The largest font (<= max_size) and wrapped lines with which `text` fits in `box`."""
    width, height = box
    paragraphs = text.split("\n")
    size = max(max_size, min_size)
    while True:
        font = load_font(size)
        lines = [line for para in paragraphs for line in (_wrap(para.split(), font, width) or [""])]
        line_h = _line_height(font)
        fits = len(lines) * line_h <= height and all(font.getlength(ln) <= width for ln in lines)
        if fits or size <= min_size:
            return font, lines
        size = max(min_size, int(size * 0.88))


def _line_height(font: Font) -> int:
    """Vertical distance between baselines for `font`."""
    if isinstance(font, ImageFont.FreeTypeFont):
        ascent, descent = font.getmetrics()
        return int((ascent + descent) * 1.15)
    left, top, right, bottom = font.getbbox("Ag")  # bitmap fallback font
    return int((bottom - top) * 1.4) + 1


def draw_text_block(
    img: Image.Image,
    text: str,
    box: tuple[int, int, int, int],
    align: str = "center",
    max_font: int | None = None,
) -> None:
    """Type `text` in black inside `box` (left, top, right, bottom), shrinking it to fit."""
    left, top, right, bottom = box
    margin = max(4, (right - left) // 20)
    inner = (right - left - 2 * margin, bottom - top - 2 * margin)
    font, lines = fit_text(text, inner, max_font or max(10, inner[1] // 3))
    line_h = _line_height(font)
    y = top + margin + (inner[1] - line_h * len(lines)) // 2 if align == "center" else top + margin
    draw = ImageDraw.Draw(img)
    for line in lines:
        x = left + margin
        if align == "center":
            x += int((inner[0] - font.getlength(line)) // 2)
        draw.text((x, y), line, fill=(0, 0, 0), font=font)
        y += line_h


def render_typo(phrase: str, size: Size = DEFAULT_SIZE) -> Image.Image:
    """TYPO: the key phrase typed in black on a white image."""
    img = Image.new("RGB", size, (255, 255, 255))
    draw_text_block(img, phrase, (0, 0, size[0], size[1]), max_font=size[1] // 6)
    return img


def _article(word: str) -> str:
    """'an' before a vowel, else 'a'."""
    return "an" if word[:1].lower() in "aeiou" else "a"


@dataclass(frozen=True)
class Scene:
    """A drawable scene: sky and ground names plus (colour, shape, cx, cy, half) shapes.

    cx and cy are fractions of the width and height; half is a fraction of the shorter side,
    so shapes keep their proportions in a non-square canvas.
    """

    sky: str
    ground: str
    shapes: tuple[tuple[str, str, float, float, float], ...]

    def describe(self) -> str:
        """A one-sentence ground-truth caption of the scene."""
        names = [f"{_article(colour)} {colour} {shape}" for colour, shape, *_ in self.shapes]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
        return f"A simple flat drawing of {listed} on {self.ground} under a {self.sky} sky."


def random_scene(rng: random.Random) -> Scene:
    """A scene of 2-4 shapes whose colours, kinds and places are drawn from `rng`."""
    slots = sorted(rng.sample(range(4), rng.randint(2, 4)))
    shapes: list[tuple[str, str, float, float, float]] = []
    for slot in slots:
        used = {(c, s) for c, s, *_ in shapes}
        colour, shape = rng.choice([(c, s) for c in COLORS for s in SHAPES if (c, s) not in used])
        cx = (slot + 0.5) / 4 + rng.uniform(-0.03, 0.03)
        shapes.append((colour, shape, cx, rng.uniform(0.55, 0.72), rng.uniform(0.08, 0.11)))
    return Scene(rng.choice(list(_SKIES)), rng.choice(list(_GROUNDS)), tuple(shapes))


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[int, ...], fill: tuple) -> None:
    """Draw one filled circle, square or triangle inside the pixel box."""
    x0, y0, x1, y1 = box
    if shape == "circle":
        draw.ellipse(box, fill=fill, outline=(0, 0, 0), width=2)
    elif shape == "square":
        draw.rectangle(box, fill=fill, outline=(0, 0, 0), width=2)
    elif shape == "triangle":
        draw.polygon([((x0 + x1) // 2, y0), (x1, y1), (x0, y1)], fill=fill, outline=(0, 0, 0))
    else:
        raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")


def render_scene(scene: Scene, size: Size = DEFAULT_SIZE) -> Image.Image:
    """SD stand-in: paint `scene` at `size`."""
    width, height = size
    img = Image.new("RGB", size, _SKIES[scene.sky])
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, int(height * 0.65), width, height), fill=_GROUNDS[scene.ground])
    side = min(width, height)
    for colour, shape, cx, cy, half in scene.shapes:
        x, y, h = cx * width, cy * height, half * side
        draw_shape(draw, shape, (int(x - h), int(y - h), int(x + h), int(y + h)), COLORS[colour])
    return img


def render_sd_typo(scene: Scene, phrase: str, size: Size = DEFAULT_SIZE) -> Image.Image:
    """SD_TYPO: the scene in the top two thirds, the typed phrase in a white band below."""
    width, height = size
    top_h = (height * 2) // 3
    img = Image.new("RGB", size, (255, 255, 255))
    img.paste(render_scene(scene, (width, top_h)), (0, 0))
    draw_text_block(img, phrase, (0, top_h, width, height), max_font=max(10, height // 9))
    return img


def figstep_text(phrase: str) -> str:
    """The FigStep-style typed text: a 'Steps to ...' title and an empty list 1-3."""
    return f"Steps to {phrase.strip().rstrip('.')}.\n1.\n2.\n3."


def render_figstep(phrase: str, size: Size = DEFAULT_SIZE) -> Image.Image:
    """FigStep: the title and empty numbered list typed left-aligned on white."""
    img = Image.new("RGB", size, (255, 255, 255))
    draw_text_block(
        img, figstep_text(phrase), (0, 0, size[0], size[1]), align="left", max_font=size[1] // 9
    )
    return img
