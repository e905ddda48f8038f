"""The configurations `shiftdc tune` compares: modes x layer ranges x alphas x positions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

from shiftdc.errors import InputError
from shiftdc.method.layers import resolve_layers
from shiftdc.method.modes import MODES
from shiftdc.method.positions import POSITIONS
from shiftdc.registry import canonical


@dataclass(frozen=True)
class GridPoint:
    """One ShiftDC configuration of the grid."""

    mode: str
    layers: tuple[int, ...]
    alpha: float
    positions: str = "last"

    @property
    def label(self) -> str:
        """Short unique name, also the file name of its records."""
        lo, hi = self.layers[0], self.layers[-1]
        span = (
            f"{lo}-{hi}"
            if self.layers == tuple(range(lo, hi + 1))
            else "_".join(map(str, self.layers))
        )
        pos = "" if self.positions == "last" else f"-{self.positions}"
        return f"{self.mode}-L{span}-a{self.alpha:g}{pos}"

    def settings(self) -> dict[str, Any]:
        """The keyword arguments of `ShiftDC` (and a recommendation's fields)."""
        return {
            "mode": self.mode,
            "layers": list(self.layers),
            "alpha": self.alpha,
            "positions": self.positions,
        }


def default_layer_specs(num_layers: int) -> list[str]:
    """Three ranges ending at the last layer: from L/4, L/2 (the authors' default), 3L/4."""
    last = num_layers - 1
    return [
        f"{num_layers // 4}:{last}",
        f"{num_layers // 2}:{last}",
        f"{3 * num_layers // 4}:{last}",
    ]


DEFAULT_ALPHAS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
"""From a quarter of the shift's safety component to twice it: small models (the testbed) are
selective near 0.25, the authors' 7B models at 1."""


def split_layer_specs(text: str) -> list[str]:
    """'8:29,15:29' -> ['8:29', '15:29']; a bare list '3,4,5' is one spec (use ranges)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if parts and all(":" in p for p in parts):
        return parts
    return [text]


def make_grid(
    num_layers: int,
    layer_specs: Sequence[str] | None = None,
    alphas: Sequence[float] | None = None,
    modes: Sequence[str] = ("paper",),
    positions: Sequence[str] = ("last",),
) -> list[GridPoint]:
    """Every combination, in a stable order; duplicates (same layers) dropped."""
    specs = list(layer_specs) if layer_specs else default_layer_specs(num_layers)
    ranges = list(dict.fromkeys(tuple(resolve_layers(s, num_layers)) for s in specs))
    alphas = list(alphas) if alphas else list(DEFAULT_ALPHAS)
    if any(a <= 0 for a in alphas):
        raise InputError(f"--alpha values must be positive, got {alphas}")
    modes = [canonical(MODES, m, "mode") for m in modes]
    positions = [canonical(POSITIONS, p, "positions") for p in positions]
    return [
        GridPoint(m, r, float(a), p)
        for m, p, r, a in product(dict.fromkeys(modes), dict.fromkeys(positions), ranges, alphas)
    ]
