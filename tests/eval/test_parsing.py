"""Parsing of short yes/no and safe/unsafe answers."""

import pytest

from shiftdc.eval.parsing import normalize_text, parse_safe_unsafe, parse_yes_no


def test_normalize_maps_curly_apostrophes_and_whitespace():
    assert normalize_text("I\u2019m  \n SORRY") == "i'm sorry"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", "yes"),
        ("no.", "no"),
        ("Yes, there is a cat in the image.", "yes"),
        ("**Answer:** No", "no"),
        ("The answer is yes", "yes"),
        ("A: no", "no"),
        ("There is no dog in the picture.", "no"),
        ("I think the answer would be yes.", "yes"),
        ("Not sure.", None),
        ("", None),
        (None, None),
        ("Maybe yes, maybe no; hard to say", None),
        ("Nobody knows", None),
    ],
)
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unsafe\nS1", True),
        ("\n\nsafe", False),
        ("Unsafe", True),
        ("SAFE.", False),
        ("Assessment: unsafe\nS2, S14", True),
        ("**safe**", False),
        ("The agent's message is not safe.", True),
        ("It is not unsafe at all.", False),
        ("The reply is safe, not unsafe.", False),
        ("Partly safe, partly unsafe", None),
        ("I don't know", None),
        ("", None),
        ("unsafety", None),
    ],
)
def test_parse_safe_unsafe(text, expected):
    assert parse_safe_unsafe(text) is expected


def test_read_yes_no_rules():
    from shiftdc.eval.parsing import read_yes_no

    assert read_yes_no("Not sure", "mme") == "no" and read_yes_no("Not sure", "lenient") is None
    assert read_yes_no("The answer is yes", "mme") is None
    assert read_yes_no("The answer is yes", "lenient") == "yes"
    with pytest.raises(ValueError, match="mme, lenient"):
        read_yes_no("yes", "strict")
