"""`python -m bench scale`: items/s of data-parallel ShiftDC with 1 vs N processes.

Each process loads its own copy of the bench model (one CPU thread each, or its own GPU),
fits a direction, then waits at a barrier; the timed part is its share (items k, k+N, ...)
of one ShiftDC job with self-captions, as `torchrun -m shiftdc evaluate` splits it. The
job's time is the slowest process's; the ratio is items/s with N processes over items/s
with one, both measured in this run (1, N, 1, N, ... interleaved, medians).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch


def _worker(k: int, n: int, path: str, device: str, cfg: dict, barrier, results) -> None:
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    from bench import scenarios
    from shiftdc.method.direction import SafetyDirection
    from shiftdc.models import load_vlm
    from shiftdc.parallel import distributed

    hf_logging.set_verbosity_error()
    dev = f"cuda:{k}" if device == "cuda" else "cpu"
    dtype = "bfloat16" if device == "cuda" else "float32"
    vlm = load_vlm(path, dtype=dtype, device=dev)
    vlm.model.generation_config.min_new_tokens = cfg["tokens"]
    safe, unsafe = scenarios._fit_sets(4)
    direction = SafetyDirection.fit(vlm, safe, unsafe, progress=False)
    b = scenarios.Bench(vlm, dev, cfg["tokens"], 1, [], Path(cfg["tmp"]) / f"cap{k}", direction)
    sdc = b.shiftdc(cfg["batch"], cached=False)
    items = scenarios.make_items(cfg["items"])
    sdc.generate(items[:1], cfg["tokens"])  # warm-up
    mine = distributed.shard(items, k, n)
    barrier.wait()
    t0 = time.perf_counter()
    sdc.generate(mine, cfg["tokens"])
    if device == "cuda":
        torch.cuda.synchronize(dev)
    results.put((k, time.perf_counter() - t0, len(mine)))


def run_width(n: int, path: str, device: str, cfg: dict) -> float:
    """Items/s of one job split over n processes (slowest process's time)."""
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(k, n, path, device, cfg, barrier, results))
        for k in range(n)
    ]
    for p in procs:
        p.start()
    got = [results.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode:
            raise RuntimeError(f"bench worker exited with status {p.exitcode}")
    return sum(c for _, _, c in got) / max(t for _, t, _ in got)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--procs", type=int, default=2, help="processes of the wide run (N)")
    ap.add_argument("--items", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=16, help="caption and answer tokens")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2, help="interleaved 1/N pairs")
    args = ap.parse_args(argv)
    if args.device == "cuda" and torch.cuda.device_count() < args.procs:
        print(f"{args.procs} processes need {args.procs} GPUs; found {torch.cuda.device_count()}")
        return 2
    from bench import model as bench_model

    with tempfile.TemporaryDirectory() as tmp:
        path = str(bench_model.build(Path(tmp) / "model", bench_model.QUICK_SPEC))
        cfg = dict(items=args.items, tokens=args.tokens, batch=args.batch, tmp=tmp)
        rates: dict[int, list[float]] = {1: [], args.procs: []}
        for r in range(args.repeats):
            for n in (1, args.procs):
                rates[n].append(run_width(n, path, args.device, cfg))
                print(f"  repeat {r + 1}: {n} process(es): {rates[n][-1]:.3f} items/s", flush=True)
    one, wide = statistics.median(rates[1]), statistics.median(rates[args.procs])
    print(
        f"data-parallel ShiftDC on {args.device} ({'1 thread' if args.device == 'cpu' else '1 GPU'}"
        f" per process), {args.items} items, {args.tokens}-token captions and answers: "
        f"{one:.3f} items/s with 1 process, {wide:.3f} with {args.procs}: "
        f"ratio {wide / one:.2f}x (target >= 1.7x for 2)"
    )
    return 0
