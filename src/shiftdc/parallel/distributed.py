"""torch.distributed helpers: rank and world, shards, sums, barriers, rank-0 work.

Launched by `torchrun` or `accelerate launch` (both set RANK, WORLD_SIZE, LOCAL_RANK and
the rendezvous variables), every process runs the same command; outside a launcher the
world is one process and every helper here is a no-op. The process group starts on first
use: NCCL where the rank has a GPU, otherwise gloo (`SHIFTDC_DIST_BACKEND` overrides),
with a generous timeout (`SHIFTDC_DIST_TIMEOUT` seconds, default 6 hours) so that a rank
with a longer shard does not make the others fail at a barrier.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import TypeVar

import torch

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 6 * 3600


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default) or default)
    except ValueError:
        return default


def world_size() -> int:
    """Number of processes in the job (1 outside a launcher)."""
    return _env_int("WORLD_SIZE", 1)


def rank() -> int:
    """This process's global rank (0 outside a launcher)."""
    return _env_int("RANK", 0)


def local_rank() -> int:
    """This process's rank on its node."""
    return _env_int("LOCAL_RANK", 0)


def active() -> bool:
    """Whether this process is one of several."""
    return world_size() > 1


def is_main() -> bool:
    """Whether this process writes shared outputs (rank 0)."""
    return rank() == 0


def tag() -> str:
    """Log prefix naming the rank ('' in a single process)."""
    return f"[rank {rank()}/{world_size()}] " if active() else ""


def log(msg: str) -> None:
    """One line on stderr, prefixed with the rank under a launcher."""
    print(f"{tag()}{msg}", file=sys.stderr, flush=True)


def rank_device() -> str | None:
    """This rank's GPU under a launcher (cuda:LOCAL_RANK), else None (the default device)."""
    if active() and torch.cuda.is_available():
        return f"cuda:{local_rank() % torch.cuda.device_count()}"
    return None


def backend() -> str:
    """Process-group backend: $SHIFTDC_DIST_BACKEND, else nccl with GPUs, else gloo."""
    forced = os.environ.get("SHIFTDC_DIST_BACKEND")
    if forced:
        return forced
    return "nccl" if torch.cuda.is_available() else "gloo"


def init() -> bool:
    """Join the launcher's process group (once); False when running alone."""
    if not active():
        return False
    import torch.distributed as dist

    if not dist.is_initialized():
        timeout = timedelta(seconds=_env_int("SHIFTDC_DIST_TIMEOUT", DEFAULT_TIMEOUT_S))
        kw = {}
        if backend() == "nccl":
            torch.cuda.set_device(local_rank() % torch.cuda.device_count())
        dist.init_process_group(backend=backend(), timeout=timeout, **kw)
    return True


def shard(items: Sequence[T], index: int | None = None, count: int | None = None) -> list[T]:
    """Items index, index+count, ...: a deterministic split sizes differing by at most one."""
    i = rank() if index is None else index
    n = world_size() if count is None else count
    return list(items[i::n])


def _reduce_device() -> torch.device:
    return (
        torch.device(f"cuda:{torch.cuda.current_device()}")
        if backend() == "nccl"
        else (torch.device("cpu"))
    )


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum of `tensor` over all ranks (itself when alone), on the tensor's device."""
    if not init():
        return tensor
    import torch.distributed as dist

    buf = tensor.to(_reduce_device()).contiguous()
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    return buf.to(tensor.device)


def barrier() -> None:
    """Wait for every rank (no-op when alone); gloo names a rank that never arrives."""
    if not init():
        return
    import torch.distributed as dist

    if dist.get_backend() == "gloo":
        timeout = timedelta(seconds=_env_int("SHIFTDC_DIST_TIMEOUT", DEFAULT_TIMEOUT_S))
        dist.monitored_barrier(timeout=timeout, wait_all_ranks=True)
    else:
        dist.barrier()


def broadcast_object(obj: T) -> T:
    """Rank 0's `obj` on every rank."""
    if not init():
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def finish() -> None:
    """Leave the process group (call once at the end of a command)."""
    if active():
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
