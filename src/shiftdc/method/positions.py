"""Where a calibration's corrections are applied: the POSITIONS registry.

`last` (the authors' way, the default): the last prompt token and every generated token;
the image and prompt tokens before it keep their unsteered activations, so the prompt's
KV cache can be shared with the measuring pass. `all`: every position, image and prompt
tokens included, which needs a fresh pass over the whole prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch
from torch import nn

from shiftdc.models.hooks import subtract_all, subtract_last
from shiftdc.registry import lookup

Apply = Callable[[nn.ModuleList, dict[int, torch.Tensor]], AbstractContextManager[None]]


@dataclass(frozen=True)
class Positions:
    """A position choice: its description, its hook, whether the prompt cache can be reused."""

    description: str
    apply: Apply
    reuses_prompt_cache: bool


POSITIONS: dict[str, Positions] = {
    "last": Positions("the last prompt token and every generated token", subtract_last, True),
    "all": Positions("every position: image, prompt and generated tokens", subtract_all, False),
}
DEFAULT_POSITIONS = "last"


def get_positions(name: str) -> Positions:
    """The registered position choice `name`; UnknownNameError listing them otherwise."""
    return lookup(POSITIONS, name, "positions")


__all__ = ["DEFAULT_POSITIONS", "POSITIONS", "Positions", "get_positions"]
