"""The bundled request lists (harmful and benign) and their fixed three-way split."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final, Literal

from shiftdc.data.load_errors import DatasetFormatError

Split = Literal["eval", "direction", "train", "tune"]
SPLITS: Final[tuple[str, ...]] = ("eval", "direction", "train", "tune")
"""eval: scored benchmark; direction: fits the safety direction; train: alignment (testbed);
tune: choosing a calibration's layers and strength (never trained on, never reported)."""

_FILES: Final[dict[str, str]] = {
    "harmful": "harmful_requests.json",
    "benign": "benign_requests.json",
}


@dataclass(frozen=True)
class BuiltinRequest:
    """One bundled request: its scenario, the activity phrase typed into images, its split."""

    id: str
    kind: Literal["harmful", "benign"]
    scenario: str
    key_phrase: str
    request: str
    split: Split


def check_split(split: str) -> Split:
    """Return `split` if it is a known split name, else raise ValueError listing them."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return split  # type: ignore[return-value]


@cache
def _load(kind: str) -> tuple[BuiltinRequest, ...]:
    """Read and validate one bundled JSON list."""
    name = _FILES[kind]
    text = resources.files("shiftdc.data").joinpath("resources", name).read_text("utf-8")
    rows = json.loads(text)["requests"]
    out = []
    for row in rows:
        try:
            req = BuiltinRequest(
                id=row["id"],
                kind=kind,  # type: ignore[arg-type]
                scenario=row["scenario"],
                key_phrase=row["key_phrase"],
                request=row["request"],
                split=check_split(row["split"]),
            )
        except (KeyError, ValueError) as exc:
            raise DatasetFormatError(f"bundled resource {name}: bad entry {row!r}: {exc}") from exc
        out.append(req)
    return tuple(out)


def builtin_requests(
    split: Split | None = None, kind: Literal["harmful", "benign"] | None = None
) -> list[BuiltinRequest]:
    """The bundled requests, optionally only one split and/or one kind, in file order."""
    if split is not None:
        check_split(split)
    kinds = [kind] if kind is not None else list(_FILES)
    return [r for k in kinds for r in _load(k) if split is None or r.split == split]
