"""Which ShiftDC configuration a call uses: explicit values, else the direction's
recommendation (`shiftdc tune`), else the built-in defaults (paper mode, the direction's
fit-time layers or L//2..L-1, alpha 1, corrections at the last position)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shiftdc.errors import InputError
from shiftdc.method.direction import default_layers
from shiftdc.method.layers import resolve_layers
from shiftdc.method.modes import MODES
from shiftdc.method.positions import DEFAULT_POSITIONS, POSITIONS
from shiftdc.registry import canonical

if TYPE_CHECKING:
    from shiftdc.method.direction import SafetyDirection

DEFAULT_MODE = "paper"
DEFAULT_ALPHA = 1.0


@dataclass(frozen=True)
class Settings:
    """A resolved ShiftDC configuration and where each value came from."""

    mode: str
    layers: list[int]
    alpha: float
    positions: str
    sources: dict[str, str]  # field -> "explicit" | "recommended" | "default"
    tuned_with: str | None = None  # captions the recommendation was tuned with, if it is used

    def describe(self) -> str:
        """One line: the values and their sources, e.g. for a command to print."""
        span = _span(self.layers)
        by: dict[str, list[str]] = {}
        for key, src in self.sources.items():
            by.setdefault(src, []).append(key)
        origin = "; ".join(f"{src}: {', '.join(keys)}" for src, keys in by.items())
        if self.tuned_with:
            origin += f"; recommendation tuned with {self.tuned_with} captions"
        return (
            f"mode {self.mode}, layers {span}, alpha {self.alpha:g}, "
            f"positions {self.positions} ({origin})"
        )


def _span(layers: Sequence[int]) -> str:
    lo, hi = layers[0], layers[-1]
    return f"{lo}..{hi}" if list(layers) == list(range(lo, hi + 1)) else ",".join(map(str, layers))


def resolve_settings(
    direction: SafetyDirection,
    num_layers: int,
    mode: str | None = None,
    layers: Sequence[int] | None = None,
    alpha: float | None = None,
    positions: str | None = None,
) -> Settings:
    """Each value: explicit if given, else the direction's recommendation, else the default."""
    rec = direction.recommended or {}
    fit_layers = direction.layers if direction.layers is not None else default_layers(num_layers)
    defaults = {
        "mode": DEFAULT_MODE,
        "layers": fit_layers,
        "alpha": DEFAULT_ALPHA,
        "positions": DEFAULT_POSITIONS,
    }
    given = {"mode": mode, "layers": layers, "alpha": alpha, "positions": positions}
    values, sources = {}, {}
    for key, value in given.items():
        if value is not None:
            values[key], sources[key] = value, "explicit"
        elif rec.get(key) is not None:
            values[key], sources[key] = rec[key], "recommended"
        else:
            values[key], sources[key] = defaults[key], "default"
    alpha = values["alpha"]
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not math.isfinite(alpha):
        alpha = None
    if alpha is None or alpha < 0:
        where = " (the direction's recommendation)" if sources["alpha"] == "recommended" else ""
        raise InputError(f"alpha must be a finite number >= 0, got {values['alpha']!r}{where}")
    return Settings(
        mode=canonical(MODES, values["mode"], "mode"),
        layers=resolve_layers(list(values["layers"]), num_layers),
        alpha=float(alpha),
        positions=canonical(POSITIONS, values["positions"], "positions"),
        sources=sources,
        tuned_with=rec.get("captions") if "recommended" in sources.values() else None,
    )
