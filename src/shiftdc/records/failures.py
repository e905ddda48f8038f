"""The failure policy: failed items become error records; too many failures exit 3."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from shiftdc.errors import FailedItemsError, InputError, ShiftDCError

ITEM_FAILURES = (ShiftDCError, ValueError)
T = TypeVar("T")


@dataclass(frozen=True)
class Tally:
    """Items recorded and items failed in one output."""

    recorded: int
    failed: int
    where: Path

    def check(self, max_failed: float) -> None:
        """Raise FailedItemsError (exit 3) when more than `max_failed` of the items failed."""
        check_failed(self.failed, self.recorded, max_failed, self.where)


def check_failed(failed: int, total: int, max_failed: float, where: Path) -> None:
    """Raise FailedItemsError when failed/total exceeds the `max_failed` fraction."""
    if failed and failed > max_failed * total:
        raise FailedItemsError(
            f"{failed} of {total} items failed (more than --max-failed {max_failed:g}); "
            f"their errors are in {where}; fix them and rerun the same command to retry them"
        )


def valid_fraction(value: float, flag: str = "--max-failed") -> float:
    """A fraction in [0, 1], or InputError naming the flag."""
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise InputError(f"{flag} must be a fraction between 0 and 1, got {value}")
    return value


def run_isolating_failures(
    fn: Callable[[list[T]], list[dict[str, Any]]], chunk: list[T]
) -> list[dict[str, Any]]:
    """fn(chunk); if an item fails, rerun one by one and give failed items {"error": msg}."""
    try:
        return fn(chunk)
    except ITEM_FAILURES as exc:
        if len(chunk) == 1:
            return [{"error": f"{exc.__class__.__name__}: {exc}"}]
    out = []
    for item in chunk:
        out.extend(run_isolating_failures(fn, [item]))
    return out
