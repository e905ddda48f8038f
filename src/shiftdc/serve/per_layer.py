"""Every decoder layer's image-induced shift and correction, for one row of a calibration.

The response's `shiftdc` block lists the calibrated layers only. On request
(`"return_layers": true`) it also carries `per_layer`: one value per decoder layer, where
the correction is zero outside the calibrated layers. Components "along s" are signed
projections on the unit safety direction of that layer (zero where s^l is zero).
"""

from __future__ import annotations

from typing import Any

import torch

from shiftdc.method.results import Calibration


def per_layer_block(vectors: torch.Tensor, cal: Calibration, row: int) -> dict[str, Any]:
    """`vectors` [L, H] the safety direction; the per-layer numbers of batch row `row`."""
    s = vectors.float()
    norm = s.norm(dim=-1, keepdim=True)
    unit = torch.where(norm > 0, s / norm.clamp_min(1e-30), torch.zeros_like(s))
    m = (cal.x_vl[row] - cal.x_tt[row]).float()
    corr = torch.zeros_like(m)
    corr[cal.layers] = cal.corrections[row].float()
    return {
        "num_layers": int(s.shape[0]),
        "calibrated": list(cal.layers),
        "shift_norm": m.norm(dim=-1).tolist(),
        "shift_along_s": (m * unit).sum(-1).tolist(),
        "correction_norm": corr.norm(dim=-1).tolist(),
        "correction_along_s": (corr * unit).sum(-1).tolist(),
    }
