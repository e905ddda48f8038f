"""Synthetic activation sets with a planted, known geometry."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Planted:
    """Four [N, L, H] sets plus the unit safety axis u and an orthogonal 'visual' axis v."""

    sets: dict[str, np.ndarray]
    u: np.ndarray
    v: np.ndarray


def orthonormal(rng: np.random.Generator, hidden: int, k: int) -> np.ndarray:
    """k random orthonormal vectors of length `hidden`, as rows."""
    q, _ = np.linalg.qr(rng.normal(size=(hidden, k)))
    return q.T


def make_planted(
    *,
    n: int = 40,
    n_layers: int = 6,
    hidden: int = 32,
    sep: float = 6.0,
    distortion: float = 0.0,
    visual: float = 0.0,
    separable_layers: list[int] | None = None,
    seed: int = 0,
) -> Planted:
    """Text classes at -/+ sep/2 along u (safe on the + side); VL = paired text + shifts.

    vl_unsafe[i] = tt_unsafe[i] + distortion * sep * u + visual * v (towards 'safe' for
    distortion > 0), vl_safe[i] = tt_safe[i] + visual * v. Layers not in separable_layers
    (default: all) carry no class signal.
    """
    rng = np.random.default_rng(seed)
    u, v = orthonormal(rng, hidden, 2)
    signal = np.zeros((n_layers, 1))
    signal[separable_layers if separable_layers is not None else slice(None)] = 1.0
    offset = signal * (sep / 2) * u
    tt_safe = rng.normal(size=(n, n_layers, hidden)) + offset
    tt_unsafe = rng.normal(size=(n, n_layers, hidden)) - offset
    vl_safe = tt_safe + visual * v
    vl_unsafe = tt_unsafe + signal * distortion * sep * u + visual * v
    sets = {"tt_safe": tt_safe, "tt_unsafe": tt_unsafe, "vl_safe": vl_safe, "vl_unsafe": vl_unsafe}
    return Planted(sets, u, v)
