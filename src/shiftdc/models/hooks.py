"""Forward hooks on decoder layers: read and patch the last position's output.

In transformers 5.x a decoder layer returns a tensor; older code returned a tuple whose
first element is the hidden state. Every hook here accepts both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn


def _hidden(output: torch.Tensor | tuple) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output


def _with_hidden(output: torch.Tensor | tuple, hidden: torch.Tensor) -> torch.Tensor | tuple:
    return (hidden, *output[1:]) if isinstance(output, tuple) else hidden


@contextmanager
def _hooks(
    layers: nn.ModuleList, fns: dict[int, Callable[[nn.Module, tuple, object], object]]
) -> Iterator[None]:
    handles = [layers[i].register_forward_hook(fn) for i, fn in fns.items()]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@contextmanager
def read_last(layers: nn.ModuleList, indices: Sequence[int]) -> Iterator[dict[int, torch.Tensor]]:
    """Record each listed layer's raw output at the last position ([B, H], float32).

    The dict it yields is filled by the forward passes run inside the block; a later
    pass overwrites an earlier one.
    """
    store: dict[int, torch.Tensor] = {}

    def make(i: int):
        def hook(_mod, _inp, output):
            store[i] = _hidden(output)[:, -1, :].detach().float().clone()

        return hook

    with _hooks(layers, {i: make(i) for i in indices}):
        yield store


@contextmanager
def subtract_last(layers: nn.ModuleList, corrections: dict[int, torch.Tensor]) -> Iterator[None]:
    """Subtract corrections[l] ([B, H]) from layer l's output at the last position of every pass.

    Inside `generate` this hits the last prompt token (prefill) and every generated token.
    """

    def make(i: int):
        corr = corrections[i]
        cast: dict[tuple, torch.Tensor] = {}  # the correction per (device, dtype), made once

        def hook(_mod, _inp, output):
            h = _hidden(output)
            if h.shape[0] != corr.shape[0]:
                raise ValueError(
                    f"batch of {h.shape[0]} sequences but corrections for {corr.shape[0]}; "
                    "beam search and num_return_sequences > 1 are not supported with corrections"
                )
            key = (h.device, h.dtype)
            if key not in cast:
                cast[key] = corr.to(device=h.device, dtype=h.dtype)[:, None, :]
            if h.shape[1] == 1:  # a decoding step: one fused op
                return _with_hidden(output, h - cast[key])
            h = h.clone()
            h[:, -1:, :] -= cast[key]
            return _with_hidden(output, h)

        return hook

    with _hooks(layers, {i: make(i) for i in corrections}):
        yield


@contextmanager
def calibrate_on_the_fly(
    layers: nn.ModuleList,
    indices: Sequence[int],
    rule: Callable[[int, torch.Tensor], torch.Tensor],
) -> Iterator[dict[int, torch.Tensor]]:
    """At each listed layer l, subtract rule(l, x) from the last position's output x.

    `x` ([B, H], float32) is the output of the stream already calibrated upstream. Yields
    a dict of the corrections applied ([B, H] float32), filled as the pass runs.
    """
    applied: dict[int, torch.Tensor] = {}

    def make(i: int):
        def hook(_mod, _inp, output):
            h = _hidden(output)
            corr = rule(i, h[:, -1, :].float())
            applied[i] = corr.detach().clone()
            h = h.clone()
            h[:, -1, :] -= corr.to(dtype=h.dtype)
            return _with_hidden(output, h)

        return hook

    with _hooks(layers, {i: make(i) for i in indices}):
        yield applied


@contextmanager
def subtract_all(layers: nn.ModuleList, corrections: dict[int, torch.Tensor]) -> Iterator[None]:
    """Subtract corrections[l] ([B, H]) from layer l's output at every position of every pass.

    Inside a fresh `generate` (no prefilled cache) this hits the image and prompt tokens as
    well as every generated token.
    """

    def make(i: int):
        corr = corrections[i]

        def hook(_mod, _inp, output):
            h = _hidden(output)
            if h.shape[0] != corr.shape[0]:
                raise ValueError(
                    f"batch of {h.shape[0]} sequences but corrections for {corr.shape[0]}"
                )
            return _with_hidden(output, h - corr.to(device=h.device, dtype=h.dtype)[:, None, :])

        return hook

    with _hooks(layers, {i: make(i) for i in corrections}):
        yield
