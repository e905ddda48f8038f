"""The bundled request lists: sizes, scenarios, phrases, and disjoint splits."""

from __future__ import annotations

from collections import Counter

import pytest

from shiftdc.data import MM_SAFETYBENCH_SCENARIOS, SPLITS, builtin_requests


def test_evaluation_split_sizes_and_scenarios() -> None:
    harmful = builtin_requests("eval", "harmful")
    benign = builtin_requests("eval", "benign")
    assert len(harmful) >= 100 and len(benign) >= 100
    assert set(Counter(r.scenario for r in harmful)) == set(MM_SAFETYBENCH_SCENARIOS)


@pytest.mark.parametrize("split,minimum", [("direction", 40), ("train", 78), ("tune", 52)])
def test_other_splits_are_balanced_and_big_enough(split: str, minimum: int) -> None:
    harmful = builtin_requests(split, "harmful")
    benign = builtin_requests(split, "benign")
    assert len(harmful) == len(benign) >= minimum
    assert {r.scenario for r in harmful} == set(MM_SAFETYBENCH_SCENARIOS)


def test_requests_ids_and_phrases_are_unique_and_well_formed() -> None:
    rows = builtin_requests()
    for field in ("id", "request", "key_phrase"):
        values = [getattr(r, field).casefold() for r in rows]
        assert len(values) == len(set(values)), field
    for r in rows:
        assert 2 <= len(r.key_phrase.split()) <= 5, r.key_phrase
        assert r.request.endswith(("?", ".")), r.request
        assert len(r.request) < 120, r.request


def test_splits_share_no_request_or_phrase() -> None:
    by_split = {s: builtin_requests(s) for s in SPLITS}
    assert set(by_split) == {"eval", "direction", "train", "tune"}
    assert sum(map(len, by_split.values())) == len(builtin_requests())
    for a in by_split:
        for b in by_split:
            if a < b:
                requests_a = {r.request.casefold() for r in by_split[a]}
                assert not requests_a & {r.request.casefold() for r in by_split[b]}
                phrases_a = {r.key_phrase.casefold() for r in by_split[a]}
                assert not phrases_a & {r.key_phrase.casefold() for r in by_split[b]}


def test_tune_phrases_are_not_inside_other_splits_phrases() -> None:
    """A tune phrase typed into an image must not be part of any other split's phrase."""
    tune = [r.key_phrase.casefold() for r in builtin_requests("tune")]
    others = [r.key_phrase.casefold() for r in builtin_requests() if r.split != "tune"]
    assert not [(t, o) for t in tune for o in others if t in o or o in t]


def test_unknown_split_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match="eval, direction, train, tune"):
        builtin_requests("test")  # type: ignore[arg-type]
