"""Benign phrase corpora for vision training: words of every request, never a harmful request."""

from __future__ import annotations

import random
import re
from functools import cache
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
    "plan a birthday party",
    "learn a new language",
    "set up a fish tank",
    "make a fruit salad",
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
    "design a greeting card",
    "teach a dog to sit",
    "wrap a gift neatly",
    "carve a pumpkin",
    "check tire pressure",
    "change a flat tire",
    "take better photos",
    "identify wild birds",
    "create a study schedule",
    "write a cover letter",
    "make a budget spreadsheet",
    "lock a bike safely",
    "pack for a beach trip",
    "start a vegetable garden",
    "make homemade pizza",
    "sew on a button",
    "prepare for a job interview",
    "mix paint colors",
    "draw a cartoon cat",
    "build a snowman",
    "brew green tea",
    "clean a computer keyboard",
    "install a shelf",
    "repair a torn book page",
    "save money on groceries",
)
"""Everyday activities written for the testbed; some reuse words that harmful requests use."""


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


#: EXTRA_BENIGN phrases that are also key phrases of benign 'eval' or 'direction' requests.
#: The committed projector was trained with them (found after training); measurements
#: exclude these requests (`measure.pick`), and the next retraining should drop them.
KNOWN_OVERLAP: Final[frozenset[str]] = frozenset(
    {
        "plan a birthday party",
        "make a fruit salad",
        "write a cover letter",
        "prepare for a job interview",
        "wrap a gift neatly",
        "build a snowman",
        "change a flat tire",
        "design a greeting card",
        "sew on a button",
    }
)


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
