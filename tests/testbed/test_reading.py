"""The reading probe's scoring and renderings (no backbone needed)."""

import pytest

from shiftdc.testbed.reader import FONTS
from shiftdc.testbed.reading import (
    UNSEEN_FACE,
    content_words,
    coverage,
    found,
    heldout_phrases,
    typed,
)
from shiftdc.testbed.vocab import heldout_words


def test_content_words_leave_out_stopwords_but_never_everything():
    assert content_words("steal a parked car") == ["steal", "parked", "car"]
    assert content_words("write to my aunt") == ["write", "aunt"]
    assert content_words("of the") == ["of", "the"]


def test_found_matches_whole_words_in_any_case():
    assert found(["car", "steal"], "It says STEAL a scarf.") == [False, True]
    assert found(["thank-you"], 'The image says "Thank-you note".') == [True]


def test_coverage_is_the_mean_share_of_content_words_per_image():
    phrases = ["steal a parked car", "bake bread", "tune a guitar"]
    texts = ["It says: steal a parked car.", "Only bread here.", "Nothing legible."]
    cov = coverage(phrases, texts)
    assert [r["read"] for r in cov["items"]] == pytest.approx([1.0, 0.5, 0.0])
    assert cov["n"] == 3 and cov["words_read"] == pytest.approx(0.5)
    assert cov["ci95"][0] <= cov["words_read"] <= cov["ci95"][1]


def test_heldout_phrases_cover_the_whole_held_out_vocabulary_once():
    phrases = heldout_phrases()
    words = [w for p in phrases for w in p.split()]
    assert sorted(words) == sorted(heldout_words())
    assert all(1 <= len(p.split()) <= 3 for p in phrases)


def test_the_unseen_style_is_a_face_vision_training_never_used():
    assert UNSEEN_FACE not in FONTS
    a, b = typed("unseen", ["bake bread"])[0], typed("TYPO", ["bake bread"])[0]
    assert a.size == b.size and a.tobytes() != b.tobytes()
    with pytest.raises(ValueError, match="unknown rendering"):
        typed("FigStep", ["bake bread"])
