"""Degenerate answers: text that repeats itself instead of saying something."""

from __future__ import annotations

import re

#: a run of one character repeated this many times ("!!!!!!!!!!") is degenerate
CHAR_RUN = 10
_CHAR_RUN_RE = re.compile(r"(\S)\1{" + str(CHAR_RUN - 1) + ",}")


def repeated_ngram_share(text: str, n: int = 3) -> float:
    """Share of the text's word n-grams that repeat an earlier one (0 when it has none)."""
    words = text.lower().split()
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def is_degenerate(text: str, n: int = 3, threshold: float = 0.5) -> bool:
    """True when at least `threshold` of the word n-grams are repeats, or one character
    runs `CHAR_RUN` times or more. Short or empty answers are not degenerate."""
    return repeated_ngram_share(text, n) >= threshold or bool(_CHAR_RUN_RE.search(text))
