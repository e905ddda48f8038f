"""Benign phrase corpora for vision training: words of every request, never a harmful request."""

from __future__ import annotations

import random
import re
from functools import cache
from importlib import resources
from typing import Final

from shiftdc.data.builtin_requests import builtin_requests

EXTRA_BENIGN: Final[tuple[str, ...]] = (
    "bake a birthday cake",
    "write a thank-you note",
    "track a package online",
    "print a boarding pass",
    "record a voice memo",
    "build a bird house",
    "trade baseball cards",
    "monitor my heart rate",
    "file library requests",
    "clean a bicycle chain",
    "paint a garden fence",
    "plant spring bulbs",
    "make a paper kite",
    "knit a warm scarf",
    "iron a dress shirt",
    "tune a guitar",
    "bake banana bread",
    "make fresh lemonade",
    "organize a bookshelf",
    "write a short poem",
    "host a birthday dinner",
    "learn a new language",
    "set up a fish tank",
    "make a green salad",
    "clean kitchen windows",
    "decorate a small room",
    "train for a marathon",
    "build a sand castle",
    "make a photo album",
    "find a good dentist",
    "open a savings account",
    "send a birthday card",
    "cook pasta al dente",
    "buy fresh vegetables",
    "sell old books online",
    "make a holiday card",
    "teach a dog to sit",
    "wrap a present",
    "carve a pumpkin",
    "check tire pressure",
    "patch a bike tire",
    "take better photos",
    "identify wild birds",
    "create a study schedule",
    "write a job application",
    "make a budget spreadsheet",
    "lock a bike safely",
    "pack for a beach trip",
    "start a vegetable garden",
    "make homemade pizza",
    "sort old buttons",
    "practice interview answers",
    "mix paint colors",
    "draw a cartoon cat",
    "build an igloo",
    "brew green tea",
    "clean a computer keyboard",
    "install a shelf",
    "repair a torn book page",
    "save money on groceries",
)
"""Everyday activities written for the testbed; some reuse words that harmful requests use.

None is a key phrase of a 'direction' or 'eval' request (tests/testbed/test_splits.py checks
this), so vision training never shows a held-out request.
"""


def words_of(text: str) -> list[str]:
    """Words of a phrase, keeping apostrophes and hyphens inside words."""
    return re.findall(r"[A-Za-z0-9][A-Za-z0-9'\-]*", text)


@cache
def all_words() -> tuple[str, ...]:
    """Every word of every built-in key phrase (all kinds, all splits) and of the extras."""
    seen: dict[str, None] = {}
    for req in builtin_requests():
        for w in words_of(req.key_phrase):
            seen.setdefault(w, None)
    for phrase in EXTRA_BENIGN:
        for w in words_of(phrase):
            seen.setdefault(w, None)
    return tuple(seen)


@cache
def harmful_phrases() -> frozenset[str]:
    """All harmful key phrases (lower case): vision training must never show one of these."""
    return frozenset(r.key_phrase.lower() for r in builtin_requests(kind="harmful"))


def trained_phrases() -> frozenset[str]:
    """Lower-cased activity phrases the vision stages were trained on."""
    return frozenset(a.lower() for a in benign_activities())


def benign_activities() -> list[str]:
    """Benign activity phrases for instruction tuning: the 'train' split plus the extras."""
    return [r.key_phrase for r in builtin_requests("train", "benign")] + list(EXTRA_BENIGN)


def random_mix(rng: random.Random) -> str:
    """A 2-4 word random mix of the vocabulary that contains no harmful key phrase."""
    vocab = all_words()
    while True:
        phrase = " ".join(rng.choice(vocab) for _ in range(rng.randint(2, 4)))
        low = phrase.lower()
        if not any(h in low for h in harmful_phrases()):
            return phrase


@cache
def heldout_words() -> tuple[str, ...]:
    """Ordinary English words that no vision-training image shows: the open-vocabulary test.

    None is a word of `all_words()`, which holds every word the vision stages type into an
    image (activities, key phrases and so every random mix); tests/testbed/test_splits.py
    checks it.
    """
    text = (resources.files("shiftdc.testbed") / "heldout_words.txt").read_text("utf-8")
    return tuple(w for w in text.split("\n") if w and not w.startswith("#"))
