"""Render typed phrases and remember where each word landed (for per-cell reading labels)."""

from __future__ import annotations

import random

from PIL import Image, ImageDraw, ImageFont

from shiftdc.data.render import _line_height, fit_text, random_scene, render_scene

Box = tuple[float, float, float, float]
CANVAS = 336


def _draw_block(
    img: Image.Image,
    text: str,
    box: tuple[int, int, int, int],
    max_font: int,
    colour: tuple[int, int, int] = (0, 0, 0),
) -> list[tuple[str, Box]]:
    """Type `text` centred in `box` the way shiftdc.data.render does; return word boxes."""
    left, top, right, bottom = box
    margin = max(4, (right - left) // 20)
    inner = (right - left - 2 * margin, bottom - top - 2 * margin)
    font, lines = fit_text(text, inner, max_font)
    line_h = _line_height(font)
    ascent, descent = font.getmetrics() if isinstance(font, ImageFont.FreeTypeFont) else (10, 2)
    y = top + margin + (inner[1] - line_h * len(lines)) // 2
    draw = ImageDraw.Draw(img)
    words: list[tuple[str, Box]] = []
    for line in lines:
        x = left + margin + int((inner[0] - font.getlength(line)) // 2)
        draw.text((x, y), line, fill=colour, font=font)
        pos = 0
        for w in line.split(" "):
            x0 = x + font.getlength(line[:pos])
            words.append((w, (x0, y, x0 + font.getlength(w), y + ascent + descent)))
            pos += len(w) + 1
        y += line_h
    return words


def render_with_boxes(phrase: str, rng: random.Random) -> tuple[Image.Image, list[tuple[str, Box]]]:
    """A training picture (TYPO style, scene + TYPO style, or varied) and its word boxes."""
    r = rng.random()
    if r < 0.45:
        img = Image.new("RGB", (CANVAS, CANVAS), (255, 255, 255))
        return img, _draw_block(img, phrase, (0, 0, CANVAS, CANVAS), CANVAS // 6)
    if r < 0.65:
        img = Image.new("RGB", (CANVAS, CANVAS), (255, 255, 255))
        top = CANVAS * 2 // 3
        img.paste(render_scene(random_scene(rng), (CANVAS, top)), (0, 0))
        return img, _draw_block(img, phrase, (0, top, CANVAS, CANVAS), max(10, CANVAS // 9))
    bg = tuple(rng.randint(215, 255) for _ in range(3))
    img = Image.new("RGB", (CANVAS, CANVAS), bg)
    x0, y0 = rng.randint(0, 60), rng.randint(0, 120)
    x1, y1 = rng.randint(x0 + 200, CANVAS), rng.randint(y0 + 150, CANVAS)
    colour = rng.choice([(0, 0, 0), (20, 20, 110), (120, 20, 20), (20, 90, 30), (90, 40, 130)])
    return img, _draw_block(img, phrase, (x0, y0, x1, y1), rng.randint(30, 60), colour)


def cell_words(boxes: list[tuple[str, Box]], side: int, min_frac: float = 0.12) -> list[str | None]:
    """Row-major grid cells -> the word covering most of the cell (None: no word)."""
    cell = CANVAS / side
    out: list[str | None] = []
    for row in range(side):
        for col in range(side):
            cx0, cy0 = col * cell, row * cell
            best, best_area = None, min_frac * cell * cell
            for word, (x0, y0, x1, y1) in boxes:
                w = min(x1, cx0 + cell) - max(x0, cx0)
                h = min(y1, cy0 + cell) - max(y0, cy0)
                if w > 0 and h > 0 and w * h > best_area:
                    best, best_area = word, w * h
            out.append(best)
    return out
