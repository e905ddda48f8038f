"""The reading probe's scoring (no backbone needed)."""

import pytest

from shiftdc.testbed.items import pick
from shiftdc.testbed.reading import phrase_coverage


def test_phrase_coverage_counts_key_phrase_words_per_item():
    items = pick("harmful", "TYPO", 3, seed=0)
    words = [it.meta["key_phrase"].split() for it in items]
    texts = [
        f"It says {' '.join(words[0]).upper()}.",  # every word, any case
        f"Only {words[1][0]} here.",  # the first word alone
        "Nothing legible.",
    ]
    cov = phrase_coverage(items, texts)
    expected = [1.0, sum(w in words[1][0] for w in words[1]) / len(words[1]), 0.0]
    assert [r["read"] for r in cov["items"]] == pytest.approx(expected)
    assert cov["n"] == 3 and cov["words_read"] == pytest.approx(sum(expected) / 3)
    assert cov["ci95"][0] <= cov["words_read"] <= cov["ci95"][1]
