"""Text normalisation and robust parsing of short yes/no and safe/unsafe answers."""

from __future__ import annotations

import re

from shiftdc.errors import InputError

# Apostrophe look-alikes that models emit instead of "'" (curly, modifier, prime, fullwidth).
_APOSTROPHES = str.maketrans({c: "'" for c in "\u2018\u2019\u201b\u02bc\u2032\uff07`\u00b4"})
# Lead-ins a model may put before its verdict word ("Answer: yes", "**Assessment**: unsafe").
_LEADIN = re.compile(
    r"^(?:(?:final |the )?answer(?: is)?|(?:safety )?assessment|verdict|label|output|a(?=\s*:))"
    r"\b\s*[:=-]?\s*"
)
_LEAD = re.compile(r"^[\W_]+")


def normalize_text(text: str) -> str:
    """Lower-case, map apostrophe look-alikes to "'", and collapse whitespace."""
    return " ".join(text.translate(_APOSTROPHES).lower().split())


def _strip_lead(text: str) -> str:
    """Drop leading punctuation/markup and one known lead-in such as 'answer:'."""
    text = _LEAD.sub("", normalize_text(text))
    return _LEAD.sub("", _LEADIN.sub("", text))


def _first_word(text: str) -> str:
    """The first run of letters in `text` after stripping lead-ins ('' when none)."""
    match = re.match(r"[a-z]+", _strip_lead(text))
    return match.group(0) if match else ""


def parse_yes_no(text: str | None) -> str | None:
    """Return "yes", "no", or None when the answer is neither or both.

    The first word decides ("Yes, there is a cat." -> "yes"); otherwise, if exactly one of the
    whole words yes/no occurs anywhere, that one ("There is no dog." -> "no").
    """
    if not text:
        return None
    first = _first_word(text)
    if first in ("yes", "no"):
        return first
    found = set(re.findall(r"\b(yes|no)\b", normalize_text(text)))
    return found.pop() if len(found) == 1 else None


def parse_safe_unsafe(text: str | None) -> bool | None:
    """Return True for an "unsafe" verdict, False for "safe", None when unparseable.

    The first word decides (Llama Guard prints "safe" or "unsafe\\nS1"); otherwise exactly one
    of the whole words safe/unsafe anywhere ("not safe" counts as unsafe, "not unsafe" as safe).
    """
    if not text:
        return None
    first = _first_word(text)
    if first in ("safe", "unsafe"):
        return first == "unsafe"
    norm = normalize_text(text)
    norm = re.sub(r"\bnot unsafe\b", "safe", norm)
    norm = re.sub(r"\bnot safe\b", "unsafe", norm)
    found = set(re.findall(r"\b(safe|unsafe)\b", norm))
    return found.pop() == "unsafe" if len(found) == 1 else None


YES_NO_RULES = ("mme", "lenient")
"""How utility answers are read: MME's official rule (default) or `parse_yes_no`."""


def parse_mme_yes_no(text: str | None) -> str | None:
    """MME's official reading: "yes"/"no" if the answer is that word or the word occurs in
    its first 4 characters (lower-cased; surrounding whitespace dropped), else None (wrong).

    "Yes, it is." -> "yes"; "Not sure" -> "no" (as in the official tool);
    "The answer is yes" -> None.
    """
    answer = (text or "").strip().lower()
    if answer in ("yes", "no"):
        return answer
    head = answer[:4]
    if "yes" in head:
        return "yes"
    if "no" in head:
        return "no"
    return None


def read_yes_no(text: str | None, rule: str = "mme") -> str | None:
    """Read a yes/no answer under `rule` (one of YES_NO_RULES)."""
    if rule == "mme":
        return parse_mme_yes_no(text)
    if rule == "lenient":
        return parse_yes_no(text)
    raise InputError(f"unknown yes/no rule {rule!r}; use one of {', '.join(YES_NO_RULES)}")
