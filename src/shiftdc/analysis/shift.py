"""Geometry of the modality-induced shift m = vl - tt against the safety direction s."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from shiftdc.core import correction, diff_of_means, project, scalar_projection

from .sets import check_layers

OUTCOME_GROUPS: tuple[str, ...] = ("all", "succeeded", "failed")


def safety_direction(tt_safe: np.ndarray, tt_unsafe: np.ndarray) -> np.ndarray:
    """s [L, H] = mean(text-only safe) - mean(text-only unsafe); it points towards 'safe'."""
    safe, unsafe = np.asarray(tt_safe, np.float64), np.asarray(tt_unsafe, np.float64)
    if safe.ndim != 3 or unsafe.ndim != 3 or safe.shape[1:] != unsafe.shape[1:]:
        raise ValueError(
            f"need two [N, L, H] sets with equal L, H; got {safe.shape} and {unsafe.shape}"
        )
    if len(safe) == 0 or len(unsafe) == 0:
        raise ValueError("need at least one text-only safe and one text-only unsafe sample")
    return diff_of_means(_t(safe), _t(unsafe)).numpy()


def _t(x: object) -> torch.Tensor:
    """A float64 tensor copy of an array (core's math works on tensors)."""
    return torch.tensor(np.asarray(x, np.float64))


def check_direction(s: object, n_layers: int, hidden: int) -> np.ndarray:
    """Return s as a finite float64 [L, H] array matching the activations."""
    arr = np.asarray(s, dtype=np.float64)
    if arr.shape != (n_layers, hidden):
        raise ValueError(
            f"safety direction must be [layers, hidden] = [{n_layers}, {hidden}]; got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError("safety direction has NaN or inf values")
    return arr


def component_along(m: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Signed length of m along s/||s|| ([..., L, H] -> [..., L]); positive means towards safe."""
    s_t = _t(s)
    return (scalar_projection(_t(m), s_t) * torch.linalg.vector_norm(s_t, dim=-1)).numpy()


def project_on(m: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The safety component of m: (m . s / ||s||^2) s, same shape as m; zero where s is zero."""
    return project(_t(m), _t(s)).numpy()


def cosine(m: np.ndarray, s: np.ndarray) -> np.ndarray:
    """cos(m, s) over the last axis; 0 where either vector is zero."""
    norm_m = np.linalg.norm(m, axis=-1)
    comp = component_along(m, s)
    return np.divide(comp, norm_m, out=np.zeros_like(comp), where=norm_m > 0)


@dataclass
class ShiftStats:
    """Per-layer shift geometry of one group of inputs (set-level, plus per-input if paired)."""

    n: int
    cos: np.ndarray
    norm: np.ndarray
    safety_norm: np.ndarray
    component: np.ndarray
    per_input_cos: np.ndarray | None = None
    per_input_norm: np.ndarray | None = None
    per_input_component: np.ndarray | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready numbers; per-input values are summarised per layer (mean, std)."""
        out: dict[str, object] = {
            "n": self.n,
            "cos": self.cos.tolist(),
            "norm": self.norm.tolist(),
            "safety_norm": self.safety_norm.tolist(),
            "component": self.component.tolist(),
            "mean_cos_over_layers": float(self.cos.mean()),
        }
        for name in ("per_input_cos", "per_input_norm", "per_input_component"):
            values = getattr(self, name)
            if values is not None:
                out[name] = {"mean": values.mean(0).tolist(), "std": values.std(0).tolist()}
        return out


def shift_stats(
    tt: np.ndarray, vl: np.ndarray, s: np.ndarray, *, paired: bool = False
) -> ShiftStats:
    """Shift geometry of vl [N, L, H] relative to tt [M, L, H]; s is [L, H].

    Set-level m = mean(vl) - mean(tt). With paired=True (vl[i], tt[i] from the same request)
    the per-input shifts m_i = vl[i] - tt[i] are measured too.
    """
    tt, vl = np.asarray(tt, np.float64), np.asarray(vl, np.float64)
    if len(vl) == 0 or len(tt) == 0:
        raise ValueError("shift needs at least one text-only and one vision-language sample")
    m = vl.mean(0) - tt.mean(0)
    comp = component_along(m, s)
    stats = ShiftStats(
        n=len(vl),
        cos=cosine(m, s),
        norm=np.linalg.norm(m, axis=-1),
        safety_norm=np.abs(comp),
        component=comp,
    )
    if paired:
        if len(tt) != len(vl):
            raise ValueError(
                f"paired shifts need equally many text-only and vision-language samples "
                f"(row i of each from the same request); got {len(tt)} and {len(vl)}"
            )
        mi = vl - tt
        stats.per_input_cos = cosine(mi, s)
        stats.per_input_norm = np.linalg.norm(mi, axis=-1)
        stats.per_input_component = component_along(mi, s)
    return stats


def check_outcomes(outcomes: object, n: int) -> np.ndarray:
    """Return outcomes as a boolean [n] array (True = the attack succeeded)."""
    arr = np.asarray(outcomes)
    if arr.shape != (n,):
        raise ValueError(
            f"outcomes must have one entry per unsafe vision-language input ({n}); got {arr.shape}"
        )
    if arr.dtype != bool:
        if not np.isin(arr, [0, 1]).all():
            raise ValueError("outcomes must be booleans (True = attack succeeded) or 0/1")
        arr = arr.astype(bool)
    return arr


def shift_by_outcome(
    tt: np.ndarray,
    vl: np.ndarray,
    s: np.ndarray,
    outcomes: object | None = None,
    *,
    paired: bool = False,
) -> dict[str, ShiftStats | None]:
    """Shift geometry for all inputs and, given outcomes, for succeeded / failed attacks.

    With paired=True each group's m uses its own text-only rows; otherwise it is measured
    against the mean of all of tt. A group with no inputs maps to None.
    """
    groups: dict[str, ShiftStats | None] = {"all": shift_stats(tt, vl, s, paired=paired)}
    if outcomes is None:
        return groups
    mask = check_outcomes(outcomes, len(vl))
    for name, sel in (("succeeded", mask), ("failed", ~mask)):
        if not sel.any():
            groups[name] = None
            continue
        groups[name] = shift_stats(tt[sel] if paired else tt, vl[sel], s, paired=paired)
    return groups


def calibrate_arrays(
    vl: np.ndarray,
    tt: np.ndarray,
    s: np.ndarray,
    *,
    alpha: float = 1.0,
    paired: bool = True,
    layers: list[int] | None = None,
) -> np.ndarray:
    """ShiftDC on arrays: vl - alpha * proj_s(m) at the given layers (default all).

    m is per input (vl[i] - tt[i]) when paired, else the set-level shift. This is an
    idealised, layer-independent version; a model's own calibrated activations also carry
    upstream corrections forward.
    """
    vl, tt = np.asarray(vl, np.float64), np.asarray(tt, np.float64)
    if paired and len(vl) != len(tt):
        raise ValueError(f"paired calibration needs equal counts; got {len(vl)} vl, {len(tt)} tt")
    x_vl, x_tt = (vl, tt) if paired else (vl.mean(0)[None], tt.mean(0)[None])
    idx = check_layers(layers, vl.shape[1])
    out = vl.copy()
    out[:, idx] -= correction(_t(x_vl[:, idx]), _t(x_tt[:, idx]), _t(s[idx]), alpha).numpy()
    return out
