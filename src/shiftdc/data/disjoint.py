"""Checks that two item lists share no request text (e.g. direction vs evaluation data)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from shiftdc.data.item import EvalItem


def normalize_text(text: str) -> str:
    """Case-folded text with runs of whitespace collapsed, for overlap comparisons."""
    return re.sub(r"\s+", " ", text).strip().casefold()


def request_texts(items: Iterable[EvalItem]) -> set[str]:
    """Normalized underlying request of each item (the prompt itself for text-only items)."""
    texts = set()
    for item in items:
        text = item.request if item.request is not None else None
        if text is None and item.image is None:
            text = item.prompt
        if text is not None:
            texts.add(normalize_text(text))
    return texts


def shared_requests(a: Iterable[EvalItem], b: Iterable[EvalItem]) -> set[str]:
    """Request texts (normalized) that occur in both item lists."""
    return request_texts(a) & request_texts(b)


def assert_disjoint(a: Iterable[EvalItem], b: Iterable[EvalItem], what: str = "") -> None:
    """Raise ValueError naming a few shared requests if the two lists overlap."""
    shared = sorted(shared_requests(a, b))
    if shared:
        label = f" ({what})" if what else ""
        shown = "; ".join(shared[:5])
        raise ValueError(f"{len(shared)} request(s) occur in both lists{label}, e.g.: {shown}")
