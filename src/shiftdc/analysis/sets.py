"""The four activation sets (text/vision x safe/unsafe) and input checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from shiftdc.method.layers import resolve_layer, resolve_layers

SET_NAMES: tuple[str, ...] = ("tt_safe", "tt_unsafe", "vl_safe", "vl_unsafe")
SET_LABELS: dict[str, str] = {
    "tt_safe": "text-only safe",
    "tt_unsafe": "text-only unsafe",
    "vl_safe": "vision-language safe",
    "vl_unsafe": "vision-language unsafe",
}
SAFE, UNSAFE = 0, 1


@dataclass(frozen=True)
class ActivationSets:
    """Last-token activations [N, L, H] of the four sets; all share L and H."""

    tt_safe: np.ndarray
    tt_unsafe: np.ndarray
    vl_safe: np.ndarray
    vl_unsafe: np.ndarray

    @property
    def n_layers(self) -> int:
        """Number of layers L."""
        return int(self.tt_safe.shape[1])

    @property
    def hidden(self) -> int:
        """Hidden size H."""
        return int(self.tt_safe.shape[2])

    def get(self, name: str) -> np.ndarray:
        """The set called `name` (one of SET_NAMES)."""
        return getattr(self, name)

    def counts(self) -> dict[str, int]:
        """Number of samples in each set."""
        return {n: int(self.get(n).shape[0]) for n in SET_NAMES}

    def tt(self) -> tuple[np.ndarray, np.ndarray]:
        """Text-only activations [N, L, H] and labels (0 safe, 1 unsafe)."""
        return _stack(self.tt_safe, self.tt_unsafe)

    def vl(self) -> tuple[np.ndarray, np.ndarray]:
        """Vision-language activations [N, L, H] and labels (0 safe, 1 unsafe)."""
        return _stack(self.vl_safe, self.vl_unsafe)


def _stack(safe: np.ndarray, unsafe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate a safe and an unsafe set with 0/1 labels."""
    y = np.concatenate([np.full(len(safe), SAFE), np.full(len(unsafe), UNSAFE)])
    return np.concatenate([safe, unsafe]), y


def _as_array(name: str, value: object) -> np.ndarray:
    """One set as a finite float64 [N, L, H] array ([N, H] is read as one layer)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[:, None, :]
    if arr.ndim != 3:
        raise ValueError(
            f"{name} must be [samples, layers, hidden] (or [samples, hidden]); "
            f"got shape {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: every set needs at least one sample")
    bad = int((~np.isfinite(arr)).any(axis=(1, 2)).sum())
    if bad:
        raise ValueError(f"{name} has {bad} sample(s) with NaN or inf values; drop or fix them")
    return arr


def as_sets(sets: ActivationSets | Mapping[str, object]) -> ActivationSets:
    """Check and convert a mapping with keys tt_safe, tt_unsafe, vl_safe, vl_unsafe."""
    if isinstance(sets, ActivationSets):
        mapping: Mapping[str, object] = {n: sets.get(n) for n in SET_NAMES}
    elif isinstance(sets, Mapping):
        mapping = sets
    else:
        raise TypeError(f"expected a mapping of the four sets or ActivationSets; got {type(sets)}")
    missing = [n for n in SET_NAMES if n not in mapping]
    if missing:
        raise ValueError(f"missing set(s) {missing}; expected keys {list(SET_NAMES)}")
    arrays = {n: _as_array(n, mapping[n]) for n in SET_NAMES}
    shapes = {n: a.shape[1:] for n, a in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"all sets must share [layers, hidden]; got {shapes}")
    return ActivationSets(**arrays)


def check_layer(layer: int, n_layers: int) -> int:
    """Return `layer` as an index in [0, n_layers); negative counts from the end."""
    return resolve_layer(layer, n_layers)


def check_layers(layers: list[int] | None, n_layers: int) -> list[int]:
    """Sorted unique layer indices (None means all); see `shiftdc.method.layers.resolve_layers`."""
    return resolve_layers(layers, n_layers)
