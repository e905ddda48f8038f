"""Low-level drawing: text fitting, font fallback, scene captions."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import ImageFont

from shiftdc.data import render


def test_long_phrase_is_wrapped_and_shrunk_to_fit() -> None:
    font, lines = render.fit_text("a rather long phrase " * 6, (200, 100), max_size=60)
    assert len(lines) > 1
    assert all(font.getlength(line) <= 200 for line in lines)


def test_typo_has_dark_text_on_white() -> None:
    img = np.asarray(render.render_typo("plant tulip bulbs", (160, 120)))
    assert img.shape == (120, 160, 3) and img.max() == 255 and img.min() < 60
    assert (img == 255).all(axis=2).mean() > 0.6


def test_figstep_text_has_title_and_empty_list() -> None:
    assert render.figstep_text("fly a kite.") == "Steps to fly a kite.\n1.\n2.\n3."


def test_scene_caption_names_every_shape_once() -> None:
    scene = render.random_scene(random.Random(0))
    caption = scene.describe()
    assert 2 <= len(scene.shapes) <= 4
    assert len({(c, s) for c, s, *_ in scene.shapes}) == len(scene.shapes)
    for colour, shape, *_ in scene.shapes:
        assert f"{colour} {shape}" in caption


def test_uses_dejavu_when_installed() -> None:
    try:
        ImageFont.truetype("DejaVuSans.ttf", 10)
    except OSError:
        pytest.skip("DejaVu Sans is not installed here")
    assert render.load_font(20).getname()[0] == "DejaVu Sans"


def test_falls_back_to_pillow_default_font(monkeypatch: pytest.MonkeyPatch) -> None:
    real_truetype = ImageFont.truetype

    def no_system_fonts(font=None, *args, **kwargs):
        if isinstance(font, str):  # a font looked up by file name: pretend none is installed
            raise OSError("no such font")
        return real_truetype(font, *args, **kwargs)

    render.load_font.cache_clear()
    monkeypatch.setattr(ImageFont, "truetype", no_system_fonts)
    try:
        assert render.load_font(20).getname()[0] != "DejaVu Sans"
        img = np.asarray(render.render_figstep("fly a kite", (200, 200)))
        assert img.min() < 60
    finally:
        render.load_font.cache_clear()
