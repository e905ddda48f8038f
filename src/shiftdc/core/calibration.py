"""Corrections that remove the safety-relevant part of the modality shift.

Both calibration modes use the same per-layer rule,
``correction = alpha * project(x_vl - x_tt, s)``; they differ only in which ``x_vl``
they see. In ``paper`` mode x_vl comes from an unsteered pass, so every layer's correction
is computed before any is applied (as the authors' released code does). In ``sequential``
mode x_vl at layer l is read from the stream already calibrated at layers < l, so the
safety component of the shift is exactly zero after each calibrated layer (alpha = 1).
The modes themselves (which pass feeds this math) are registered in `shiftdc.method.modes`.
"""

import torch

from shiftdc.core.mean_difference import at_least_float32
from shiftdc.core.projection import project


def correction(
    x_vl: torch.Tensor, x_tt: torch.Tensor, s: torch.Tensor, alpha: float = 1.0
) -> torch.Tensor:
    """alpha times the safety component of the shift m = x_vl - x_tt ([..., H])."""
    m = at_least_float32(x_vl) - at_least_float32(x_tt)
    return alpha * project(m, at_least_float32(s))


def paper_corrections(
    x_vl: torch.Tensor, x_tt: torch.Tensor, s: torch.Tensor, alpha: float = 1.0
) -> torch.Tensor:
    """Per-sample, per-layer corrections from unsteered activations.

    x_vl, x_tt: [B, L, H]; s: [L, H]. Returns [B, L, H] float32.
    """
    if x_vl.shape != x_tt.shape:
        raise ValueError(f"x_vl {tuple(x_vl.shape)} and x_tt {tuple(x_tt.shape)} differ")
    if x_vl.shape[1:] != s.shape:
        raise ValueError(
            f"direction {tuple(s.shape)} does not match activations {tuple(x_vl.shape)}"
        )
    return correction(x_vl, x_tt, s.unsqueeze(0), alpha)
