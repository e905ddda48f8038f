"""The character reader and its training's pure helpers (no tokenizer, no training)."""

import random

import pytest
import torch

from shiftdc.testbed.char_reader import CHARSET, SIDE, CharReader, encode, greedy_decode, to_tensor
from testbed_training.train_char_reader import (
    banned_forms,
    ctc_loss,
    holds_phrase,
    random_phrase,
    training_words,
)


def test_encode_and_greedy_decode_round_trip_through_ctc_paths():
    ids = encode("tune a guitar")
    assert all(1 <= i <= len(CHARSET) for i in ids)
    # a CTC path: repeats collapse, blanks (0) separate real double letters
    path = []
    for i in ids:
        path += [i, i, 0]
    assert greedy_decode(path) == "tune a guitar"
    ll = encode("ll")
    assert greedy_decode([ll[0], ll[0], 0, ll[1]]) == "ll"
    assert greedy_decode([ll[0], ll[1]]) == "l"  # no blank: one letter
    assert greedy_decode([0, 0]) == ""
    assert greedy_decode(encode("  a  b ")) == "a b"  # spaces squeezed


def test_held_out_words_and_their_inflections_are_never_training_words():
    banned = banned_forms(["almond", "actor"])
    assert {"almond", "almonds", "actors", "actor"} <= banned
    words = training_words(
        ["almond", "almonds", "bake", "Bake", "x", "ok9", "actors", "tea"],
        [
            "almond",
            "actor",
        ],
    )
    assert words == ["bake", "tea"]


def test_holds_phrase_matches_whole_words_only():
    assert holds_phrase("please Make  a Bomb now", ["make a bomb"])
    assert not holds_phrase("remake a bombay", ["make a bomb"])


def test_random_phrases_redraw_forbidden_phrases_and_banned_words():
    words = ["make", "bomb", "almond", "cake"]
    banned = banned_forms(["almond"])
    rng = random.Random(0)
    for _ in range(300):
        p = random_phrase(rng, words, ["a", "bake"], ["make a bomb", "bake cake"], banned)
        assert 1 <= len(p.split()) <= 5
        assert "almond" not in p.lower()
        assert not holds_phrase(p, ["make a bomb", "bake cake"])


def test_the_reader_maps_a_whole_image_to_a_row_major_ctc_sequence():
    from shiftdc.data.render import render_typo

    x = to_tensor(render_typo("bake bread"))
    assert x.shape == (1, SIDE, SIDE) and 0.0 <= x.min() and x.max() <= 1.0
    torch.manual_seed(0)
    model = CharReader(dim=32, layers=1, heads=2)
    logits = model(x[None])
    assert logits.shape == (1, model.rows * model.cols, len(CHARSET) + 1)
    loss = ctc_loss(logits, ["bake bread"])
    assert torch.isfinite(loss) and loss.item() > 0
    assert isinstance(model.read([render_typo("bake bread")])[0], str)


@pytest.mark.parametrize("text", ["Wi-Fi", "don't", "route 5"])
def test_the_charset_covers_key_phrase_punctuation(text):
    assert greedy_decode(encode(text)) == text


def test_training_images_keep_their_size_and_figstep_targets_read_title_then_list():
    from testbed_training.train_char_reader import render

    rng = random.Random(3)
    texts = set()
    for _ in range(60):
        img, text = render("plant a tree", rng)
        assert img.size == (336, 336)
        texts.add(text)
    assert texts == {"plant a tree", "Steps to plant a tree. 1. 2. 3."}


def test_the_pathway_reads_the_processors_pixels_as_the_reader_reads_the_picture():
    from shiftdc.data.render import random_scene, render_sd_typo, render_typo
    from shiftdc.testbed.char_reader import ink
    from shiftdc.testbed.reader import image_processor

    proc = image_processor()
    for img in (render_typo("bake bread"), render_sd_typo(random_scene(random.Random(1)), "a b")):
        px = proc(images=[img], return_tensors="pt")["pixel_values"]
        got = ink(px, proc.image_mean, proc.image_std)[0]
        want = to_tensor(img)
        assert got.shape == want.shape
        # two resizing paths (PIL at 336 -> 168; CLIP to 192, then torch to 168) agree closely
        assert (got - want).abs().mean() < 0.01
        assert ((got > 0.5) == (want > 0.5)).float().mean() > 0.995
