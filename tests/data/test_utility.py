"""Generated yes/no visual questions: balance, pairing, correctness, determinism."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from shiftdc.data import utility_items
from shiftdc.data.render import COLORS


def test_balanced_pairs_over_all_question_types() -> None:
    items = utility_items(seed=0)
    assert len(items) >= 60
    assert Counter(it.answer for it in items) == {"yes": len(items) // 2, "no": len(items) // 2}
    assert {it.meta["question_type"] for it in items} == {"color", "shape", "count"}
    pairs = defaultdict(list)
    for it in items:
        pairs[it.meta["image_id"]].append(it.answer)
    assert all(sorted(a) == ["no", "yes"] for a in pairs.values())
    assert all(it.kind == "utility" for it in items)
    assert all(it.prompt.endswith("Please answer yes or no.") for it in items)


def test_colour_answers_match_the_pixels() -> None:
    for it in utility_items(seed=1):
        if it.meta["question_type"] != "color":
            continue
        asked = next(name for name in COLORS if f" {name}?" in it.prompt)
        img = np.asarray(it.load_image()).reshape(-1, 3)
        present = bool((img == np.array(COLORS[asked])).all(axis=1).any())
        assert present == (it.answer == "yes"), it.prompt


def test_count_answers_match_the_caption() -> None:
    for it in utility_items(seed=2):
        if it.meta["question_type"] == "count":
            words = it.prompt.split()
            asked = 1 if words[3] == "one" else int(words[3])
            caption_count = 1 if " one " in it.caption else int(it.caption.split()[4])
            assert (asked == caption_count) == (it.answer == "yes"), (it.prompt, it.caption)


def test_same_seed_same_items_and_pixels() -> None:
    a, b, c = utility_items(seed=5), utility_items(seed=5), utility_items(seed=6)
    assert [x.prompt for x in a] == [x.prompt for x in b]
    assert np.array_equal(np.asarray(a[0].load_image()), np.asarray(b[0].load_image()))
    assert [x.prompt for x in a] != [x.prompt for x in c]
