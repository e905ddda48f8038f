"""One measurement per request, shared by every configuration of the grid.

Per batch: the text-only counterparts run once (x_tt) and the vision+text prompt runs once
unsteered (x_vl, every layer). A mode whose corrections follow from the unsteered pass
(`Mode.derive`, paper) then gets each (layers, alpha)'s corrections by core math alone; a
mode that calibrates on the fly (sequential) reruns only its measuring pass per
configuration, on the shared x_tt. Each configuration's answers are generated from the
prompt with its corrections applied (`ShiftDC.generate_calibrated`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from shiftdc.method.direction import SafetyDirection, text_only_prompts
from shiftdc.method.modes import Step, get_mode
from shiftdc.method.results import Calibration
from shiftdc.models.generation import no_logits_kwargs, text_activations, to_device
from shiftdc.models.hooks import read_last

if TYPE_CHECKING:
    from shiftdc.method.sample import Sample
    from shiftdc.models.adapter import Inputs
    from shiftdc.models.loading import VLM
    from shiftdc.tuning.grid import GridPoint


@dataclass
class SharedMeasurement:
    """What every configuration of a batch starts from."""

    inputs: Inputs  # the vision+text prompts, on the model's device
    x_tt: torch.Tensor  # [B, L, H] text-only counterparts, every layer
    x_vl: torch.Tensor  # [B, L, H] unsteered vision+text last-token outputs, every layer


@torch.no_grad()
def measure_once(
    vlm: VLM, samples: Sequence[Sample], captions: Sequence[str | None]
) -> SharedMeasurement:
    """Run a batch's text-only and unsteered vision+text passes once."""
    ad = vlm.adapter
    x_tt = text_activations(vlm, text_only_prompts(samples, captions), batch_size=len(samples))
    inputs = to_device(ad.encode_vl([s.prompt for s in samples], [s.image for s in samples]), vlm)
    every = list(range(vlm.num_layers))
    with read_last(vlm.layers, every) as xs:
        vlm.model(**ad.forward_kwargs(inputs), use_cache=False, **no_logits_kwargs(vlm))
    x_vl = torch.stack([xs[i] for i in every], 1).cpu()
    return SharedMeasurement(inputs, x_tt, x_vl)


@torch.no_grad()
def calibration_for(
    vlm: VLM, direction: SafetyDirection, point: GridPoint, shared: SharedMeasurement
) -> Calibration:
    """The corrections of one configuration, from the shared measurement."""
    mode = get_mode(point.mode)
    layers = list(point.layers)
    s = direction.vectors
    if mode.derive is not None:
        corr = mode.derive(shared.x_vl[:, layers], shared.x_tt[:, layers], s[layers], point.alpha)
        return Calibration(layers, shared.x_vl, shared.x_tt, corr)
    ad = vlm.adapter

    def run() -> object:
        return vlm.model(
            **ad.forward_kwargs(shared.inputs), use_cache=False, **no_logits_kwargs(vlm)
        )

    x_vl, corr = mode.measure(Step(run, vlm.layers, layers, shared.x_tt, s, point.alpha))
    return Calibration(layers, x_vl, shared.x_tt, corr)
