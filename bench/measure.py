"""Timing (median of interleaved repeats) and peak-memory measurement, CPU or CUDA."""

from __future__ import annotations

import ctypes
import gc
import statistics
import time
from collections.abc import Callable
from contextlib import suppress

import torch

M_MMAP_THRESHOLD = -3


def pin_allocator() -> None:
    """Make glibc hand large blocks back to the OS on free, so RSS follows live memory.

    glibc raises its mmap threshold as blocks are freed and then keeps freed memory
    resident; a fixed threshold keeps every block over 64 KiB in its own mapping. That
    costs page faults on every large allocation, so call it only before measuring memory.
    """
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, 1 << 16)


def sync(device: str) -> None:
    """Wait for queued GPU work (no-op on CPU)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def side_by_side(
    fns: dict[str, Callable[[], object]], repeats: int, device: str, warmup: int = 1
) -> dict[str, dict[str, float | list[float]]]:
    """Median seconds of each callable, run interleaved (A B C, A B C, ...) after a warm-up."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for rep in range(warmup + repeats):
        for name, fn in fns.items():
            gc.collect()
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            if rep >= warmup:
                times[name].append(time.perf_counter() - t0)
    return {k: {"median_s": statistics.median(v), "runs_s": v} for k, v in times.items()}


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"{field} not in /proc/self/status")


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def memory_method(device: str) -> str:
    """How `peak_bytes` measures, in words."""
    if device.startswith("cuda"):
        return "torch.cuda.max_memory_allocated() above the allocation before the call"
    return (
        "peak resident set size above the RSS before the call (Linux VmHWM reset through "
        "/proc/self/clear_refs; free heap trimmed first, glibc mmap threshold pinned at 64 KiB)"
    )


def peak_bytes(fn: Callable[[], object], device: str) -> int:
    """Peak memory a call adds on top of what was live before it (weights excluded)."""
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # give retained free heap pages back first
    before = _status_kib("VmRSS")
    if not _reset_hwm():
        raise OSError("cannot reset the RSS high-water mark (/proc/self/clear_refs)")
    fn()
    return (_status_kib("VmHWM") - before) * 1024
