"""What ShiftDC returns: a batch's calibration, one response's record, one sample's trace."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from shiftdc.core import scalar_projection

if TYPE_CHECKING:
    from shiftdc.method.sample import Sample


@dataclass
class Calibration:
    """What ShiftDC measured and decided for a batch (tensors on CPU, float32)."""

    layers: list[int]  # calibrated layers
    x_vl: torch.Tensor  # [B, L, H] vision+text last-token activations (see mode docs)
    x_tt: torch.Tensor  # [B, L, H] text-only counterparts
    corrections: torch.Tensor  # [B, len(layers), H], subtracted at those layers

    def as_dict(self, row: int | None = None) -> dict[int, torch.Tensor]:
        """{layer: [B, H]} corrections (or [1, H] for one row), as the hooks take them."""
        sel = slice(None) if row is None else slice(row, row + 1)
        return {layer: self.corrections[sel, j] for j, layer in enumerate(self.layers)}


@dataclass
class ShiftResult:
    """One generated response and what ShiftDC did for it."""

    id: str
    response: str
    caption: str | None
    calibrated: bool
    mode: str | None = None
    layers: list[int] = field(default_factory=list)
    shift_norm: list[float] = field(default_factory=list)  # ||m^l|| per calibrated layer
    shift_along_s: list[float] = field(default_factory=list)  # (m . s)/||s|| per layer
    correction_norm: list[float] = field(default_factory=list)

    def to_record(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Trace:
    """Everything ShiftDC computed for one sample, per decoder layer (all layers)."""

    vl_ids: list[int]
    tt_ids: list[int]
    vl_prompt: str
    tt_prompt: str
    mode: str
    layers: list[int]  # calibrated layers
    x_vl: torch.Tensor  # [L, H]
    x_tt: torch.Tensor  # [L, H]
    m: torch.Tensor  # [L, H]
    projection: torch.Tensor  # [L] scalar c with c*s the projection of m on s
    correction: torch.Tensor  # [L, H], zero outside the calibrated layers


def calibrated_results(
    batch: Sequence[Sample],
    texts: Sequence[str],
    captions: Sequence[str | None],
    cal: Calibration,
    vectors: torch.Tensor,
    mode: str,
) -> list[ShiftResult]:
    """One record per calibrated response, with the shift measured along `vectors` [L, H]."""
    s = vectors[cal.layers]
    s_norm = s.norm(dim=-1).clamp_min(1e-12)
    m = cal.x_vl[:, cal.layers] - cal.x_tt[:, cal.layers]
    along = scalar_projection(m, s) * s_norm
    return [
        ShiftResult(
            id=smp.id,
            response=texts[b],
            caption=captions[b],
            calibrated=True,
            mode=mode,
            layers=list(cal.layers),
            shift_norm=m[b].norm(dim=-1).tolist(),
            shift_along_s=along[b].tolist(),
            correction_norm=cal.corrections[b].norm(dim=-1).tolist(),
        )
        for b, smp in enumerate(batch)
    ]
