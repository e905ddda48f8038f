"""Calibration modes: how a pass over the prompt's last token turns into corrections.

A mode is a `Mode` strategy registered in `MODES`; its math lives in `shiftdc.core`. To add
one, write its `measure` function here and add one line to `MODES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from shiftdc.core import correction, paper_corrections
from shiftdc.models.hooks import calibrate_on_the_fly, read_last
from shiftdc.registry import lookup


@dataclass(frozen=True)
class Step:
    """What a mode works with: the last-token pass to run and the calibration settings."""

    run: Callable[[], object]  # runs the forward pass whose last position is calibrated
    layers: nn.ModuleList  # the decoder layers
    calibrated: list[int]  # indices of the calibrated layers
    x_tt: torch.Tensor  # [B, L, H] text-only activations, every layer
    s: torch.Tensor  # [L, H] safety directions, every layer
    alpha: float


#: (x_vl [B, L, H] on CPU, every layer; corrections [B, len(calibrated), H] on CPU)
Measured = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class Mode:
    """A calibration mode: a description and the function that runs and measures a step."""

    description: str
    measure: Callable[[Step], Measured]
    #: where corrections follow from the unsteered pass alone: (x_vl, x_tt, s, alpha) ->
    #: corrections (one unsteered pass then serves every layer range and alpha; `tune`)
    derive: Callable[..., torch.Tensor] | None = None


def measure_unsteered(step: Step) -> Measured:
    """Read every layer on an unsteered pass, then compute all corrections from it."""
    every = list(range(len(step.layers)))
    with read_last(step.layers, every) as xs:
        step.run()
    x_vl = torch.stack([xs[i] for i in every], 1).cpu()
    cal = step.calibrated
    return x_vl, paper_corrections(x_vl[:, cal], step.x_tt[:, cal], step.s[cal], step.alpha)


def measure_sequential(step: Step) -> Measured:
    """Correct each calibrated layer during the pass, on the already-calibrated stream."""
    every = list(range(len(step.layers)))
    seen: dict[int, torch.Tensor] = {}

    def rule(layer: int, x: torch.Tensor) -> torch.Tensor:
        seen[layer] = x.detach().cpu().clone()
        x_tt, s = step.x_tt[:, layer].to(x.device), step.s[layer].to(x.device)
        return correction(x, x_tt, s, step.alpha)

    others = [i for i in every if i not in step.calibrated]
    with (
        read_last(step.layers, others) as xs,
        calibrate_on_the_fly(step.layers, step.calibrated, rule) as applied,
    ):
        step.run()
    seen.update({i: v.cpu() for i, v in xs.items()})
    x_vl = torch.stack([seen[i] for i in every], 1)
    return x_vl, torch.stack([applied[i].cpu() for i in step.calibrated], 1)


MODES: dict[str, Mode] = {
    "paper": Mode(
        "corrections from unsteered activations, all computed before any is applied",
        measure_unsteered,
        paper_corrections,
    ),
    "sequential": Mode(
        "each layer corrects the shift measured on the already-calibrated stream",
        measure_sequential,
    ),
}


def get_mode(name: str) -> Mode:
    """The registered mode called `name`; UnknownNameError listing the modes otherwise."""
    return lookup(MODES, name, "mode")
