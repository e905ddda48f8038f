"""Pieces the testbed's training stages share: device choice, batch streams, small checkpoints."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from typing import Any

import torch


def pick_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; anything else is taken as given."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device


class _Stream(torch.utils.data.IterableDataset):
    """Endless batches from `make(rng)`; each loader worker draws from its own seeded rng."""

    def __init__(self, make: Callable[[random.Random], Any], seed: str) -> None:
        super().__init__()
        self.make, self.seed = make, seed

    def __iter__(self) -> Iterator[Any]:
        info = torch.utils.data.get_worker_info()
        rng = random.Random(f"{self.seed}:{info.id if info else 0}")
        while True:
            yield self.make(rng)


def batch_stream(make: Callable[[random.Random], Any], seed: str, workers: int) -> Iterator[Any]:
    """Batches built by `make` (rendering, tokenising) in `workers` processes (0: in this one).

    The stream is reproducible for a fixed number of workers; batches of several workers
    interleave in the loader's fixed round-robin order.
    """
    loader = torch.utils.data.DataLoader(
        _Stream(make, seed),
        batch_size=None,
        num_workers=workers,
        prefetch_factor=4 if workers else None,
        persistent_workers=bool(workers),
    )
    return iter(loader)


def progress(elapsed: float, budget: float, step: int, max_steps: int) -> float:
    """How far a run is, 0..1: by time, or by steps when a step cap comes first."""
    by_time = elapsed / budget if budget > 0 else 0.0
    by_steps = step / max_steps if max_steps > 0 else 0.0
    return min(1.0, max(by_time, by_steps))


def lr_factor(step: int, warmup: int, done: float) -> float:
    """Linear warm-up over `warmup` steps, then a cosine over the run (`done` 0..1) to 0.1."""
    return min(1.0, (step + 1) / max(warmup, 1)) * (0.1 + 0.45 * (1 + math.cos(math.pi * done)))


def fp16_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's state dict with float tensors in fp16, contiguous, on the CPU (small files)."""
    return {
        k: (v.to(torch.float16) if v.is_floating_point() else v).detach().cpu().contiguous()
        for k, v in module.state_dict().items()
    }


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Every tensor of a batch moved to `device`."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
