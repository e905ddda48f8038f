"""Which held-out requests a cell asks, and the text-only counterpart form."""

import pytest

from shiftdc.testbed.conditions import COUNTERPART
from shiftdc.testbed.items import as_counterpart, pick


def test_counterpart_cells_ask_the_image_cells_requests_in_words():
    typo = pick("harmful", "TYPO", 12, seed=0)
    assert [i.id for i in pick("harmful", COUNTERPART, 12, seed=0)] == [i.id for i in typo]
    for item in typo:
        sample = item.to_sample()
        text = as_counterpart(sample)
        assert text.image is None and sample.image is not None
        assert text.prompt == f"{sample.prompt} Image Caption: {sample.caption}"
        assert item.meta["key_phrase"] in text.prompt
    with pytest.raises(ValueError, match="needs an image"):
        as_counterpart(text)


def test_text_and_image_cells_share_their_requests_and_a_seed_changes_them():
    text = [i.meta["key_phrase"] for i in pick("benign", "text", 8, seed=0)]
    typo = [i.meta["key_phrase"] for i in pick("benign", "TYPO", 8, seed=0)]
    assert text == typo and len(text) == 8
    assert [i.meta["key_phrase"] for i in pick("benign", "TYPO", 8, seed=1)] != typo
