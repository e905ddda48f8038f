"""Models larger than one GPU: accelerate's device_map dispatch, offload-aware reads.

A dispatched model runs each block on its own device through accelerate's hooks; blocks
offloaded to CPU or disk hold `meta` parameters outside their forward. So nothing here
takes a layer's device from its parameters: inputs go to the input embedding's execution
device, the decoder-layer hooks (`shiftdc.models.hooks`) work on the hidden state's own
device, and weights are read (for the fingerprint) through the offload hook.

Under torchrun each process gets its own contiguous block of the node's GPUs, so N ranks
each hold one copy of the model split over G = visible GPUs / N devices.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from shiftdc.errors import InputError

DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")


def parse_max_memory(spec: str | dict | None) -> dict[int | str, str] | None:
    """'0=20GiB,1=20GiB,cpu=64GiB' -> {0: '20GiB', 1: '20GiB', 'cpu': '64GiB'}."""
    if spec is None or isinstance(spec, dict):
        return spec
    out: dict[int | str, str] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        dev, sep, size = part.partition("=")
        if not sep or not size.strip():
            raise InputError(
                f"bad --max-memory entry {part!r}; use DEVICE=SIZE pairs like 0=20GiB,cpu=64GiB"
            )
        dev = dev.strip()
        out[int(dev) if dev.isdigit() else dev] = size.strip()
    return out


def local_gpus(n_gpus: int | None = None) -> list[int]:
    """This process's GPUs: all of them, or under torchrun its block of LOCAL_WORLD_SIZE."""
    n = torch.cuda.device_count() if n_gpus is None else n_gpus
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    rank = int(os.environ.get("LOCAL_RANK", "0") or 0)
    if local <= 1 or n == 0:
        return list(range(n))
    if n < local:
        raise InputError(
            f"{local} processes on this node but {n} GPUs: a split model needs at least one "
            "GPU per process (use fewer processes or drop --device-map)"
        )
    per = n // local
    return list(range(rank * per, (rank + 1) * per))


def dispatch_kwargs(
    device_map: str | dict | None,
    max_memory: str | dict | None = None,
    offload_folder: str | None = None,
) -> dict[str, Any]:
    """from_pretrained kwargs that dispatch a model with accelerate (empty when not asked).

    With WORLD_SIZE set (torchrun), a named strategy spreads over this rank's own GPUs only
    (explicit per-device budgets, never tensor parallelism). `--max-memory` GPU keys then
    count within the rank's block: 0 is its first GPU.
    """
    if device_map is None:
        return {}
    if isinstance(device_map, str) and device_map not in DEVICE_MAPS:
        valid = ", ".join(DEVICE_MAPS)
        raise InputError(f"unknown --device-map {device_map!r}; use one of {valid}")
    budget = parse_max_memory(max_memory)
    kw: dict[str, Any] = {"device_map": device_map}
    if isinstance(device_map, str) and int(os.environ.get("WORLD_SIZE", "0") or 0) > 1:
        gpus = local_gpus()
        given = budget or {}
        own: dict[int | str, str] = {}
        for i, g in enumerate(gpus):
            free = given.get(i)
            if free is None:
                free = f"{torch.cuda.get_device_properties(g).total_memory * 0.9 // 2**20:.0f}MiB"
            own[g] = free
        for k, v in given.items():
            if isinstance(k, str):
                own[k] = v
        own.setdefault("cpu", given.get("cpu", "1024GiB"))
        budget = own
    if budget:
        kw["max_memory"] = budget
    if offload_folder:
        kw["offload_folder"] = str(offload_folder)
    return kw


def is_dispatched(model: nn.Module) -> bool:
    """Whether accelerate placed this model with a device map."""
    return bool(getattr(model, "hf_device_map", None))


def input_device(model: nn.Module) -> torch.device:
    """Where a model's inputs belong: its input embedding's execution device."""
    if is_dispatched(model):
        emb = model.get_input_embeddings()
        hook = getattr(emb, "_hf_hook", None)
        dev = getattr(hook, "execution_device", None)
        if dev is None:
            devices = [d for d in model.hf_device_map.values() if d not in ("cpu", "disk")]
            dev = devices[0] if devices else "cpu"
        return torch.device(dev if not isinstance(dev, int) else f"cuda:{dev}")
    return next(model.parameters()).device


def _offloaded_blocks(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    from accelerate.utils import has_offloaded_params

    for name, module in model.named_modules():
        if has_offloaded_params(module):
            yield name, module


def sampled_parameters(
    model: nn.Module, sample: Callable[[torch.Tensor], torch.Tensor]
) -> Iterator[tuple[str, tuple[int, ...], torch.Tensor]]:
    """(name, shape, sample(value)) for every parameter, offloaded ones read from their hook.

    The order and names are those of `model.named_parameters()`, so a dispatched model and a
    plain load of the same checkpoint yield the same sequence.
    """
    offloaded: dict[str, torch.Tensor] = {}
    if is_dispatched(model):
        from accelerate.utils import align_module_device

        for prefix, block in _offloaded_blocks(model):
            with align_module_device(block, torch.device("cpu")):
                for name, p in block.named_parameters():
                    full = f"{prefix}.{name}" if prefix else name
                    offloaded[full] = sample(p.detach())
    for name, p in model.named_parameters():
        value = offloaded.get(name)
        if value is None:
            if p.device.type == "meta":
                raise RuntimeError(f"parameter {name} is offloaded but no hook holds its weights")
            value = sample(p.detach())
        yield name, tuple(p.shape), value
