"""Duplicate ids in inputs: identical content kept once with a warning, different refused."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import TypeVar

from shiftdc.errors import InputError

T = TypeVar("T")


class DuplicateIdWarning(UserWarning):
    """An input repeats an id with identical content; the repeat is dropped."""


def unique_by_id(items: Iterable[T], key: Callable[[T], str], where: str) -> list[T]:
    """Items with repeated ids dropped (warning naming them) if identical, else refused."""
    first: dict[str, T] = {}
    out, repeated = [], []
    for item in items:
        iid = str(item.id)  # type: ignore[attr-defined]
        if iid not in first:
            first[iid] = item
            out.append(item)
        elif key(item) == key(first[iid]):
            repeated.append(iid)
        else:
            raise InputError(
                f"{where}: id {iid!r} appears twice with different content; "
                "give each request its own id"
            )
    if repeated:
        names = ", ".join(repr(i) for i in sorted(set(repeated))[:5])
        more = f" and {len(set(repeated)) - 5} more" if len(set(repeated)) > 5 else ""
        warnings.warn(
            f"{where}: {len(repeated)} repeated ids with identical content kept once: "
            f"{names}{more}",
            DuplicateIdWarning,
            stacklevel=2,
        )
    return out
