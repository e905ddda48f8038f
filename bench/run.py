"""`python -m bench`: ShiftDC's cost against plain generation, on a random model of realistic shape.

One run measures, side by side, six ratios (see README, "Speed"), prints them, and writes
bench/results/<machine>.json, .png and .md. On a machine with a CUDA GPU it runs there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import warnings
from pathlib import Path

import torch

from bench import model as bench_model
from bench import report, scenarios
from bench.shapes import SHAPES, build_in_memory

ROOT = Path(__file__).resolve().parent.parent
FULL = dict(spec=bench_model.SPEC, tokens=128, repeats=3, items=32, batch1=8, fit=32)
QUICK = dict(spec=bench_model.QUICK_SPEC, tokens=32, repeats=1, items=8, batch1=4, fit=8)


def machine(device: str, threads: int) -> tuple[str, str]:
    """(machine name, how it ran) for the report."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(0), f"CUDA, torch {torch.__version__}"
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            name = next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name}, {cores} cores", f"CPU, {threads} torch thread(s), torch {torch.__version__}"


def measured_change() -> dict[str, str]:
    """Which code a run measured: the git commit (with -dirty for uncommitted edits) and
    the versions of the libraries whose speed it depends on."""
    import subprocess

    import transformers

    def git(*args: str) -> str:
        try:
            out = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return out.stdout.strip() if out.returncode == 0 else ""

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {
        "commit": commit + ("-dirty" if dirty else ""),
        "subject": git("log", "-1", "--format=%s")[:120],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke run of under a minute (smaller model, fewer tokens)",
    )
    ap.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    ap.add_argument(
        "--shape",
        choices=sorted(SHAPES),
        help="a real model's shape, random weights made on the device (nothing on disk)",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: stable ratios on shared machines; 0: torch default)",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument(
        "--no-readme", action="store_true", help="do not refresh the README's results table"
    )
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and write the results; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["scale"]:
        from bench.scale import main as scale_main

        return scale_main(argv[1:])
    args = parse(argv)
    cfg = QUICK if args.quick else FULL
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    from shiftdc.models import load_vlm

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    name, note = machine(device, torch.get_num_threads())
    print(f"shiftdc bench on {name} ({note}){' [quick]' if args.quick else ''}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
        if args.shape:
            vlm = build_in_memory(args.shape, device, getattr(torch, dtype))
        else:
            path = bench_model.build(Path(tmp) / "model", cfg["spec"])
            vlm = load_vlm(path, dtype=dtype, device=device)
        print(f"model: {bench_model.describe(vlm)}", flush=True)
        items = scenarios.make_items(cfg["items"])
        b = scenarios.Bench(vlm, device, cfg["tokens"], cfg["repeats"], items, Path(tmp) / "cap")
        results: dict = {}
        steps = [
            ("fit", lambda: scenarios.direction_fit(b, cfg["fit"])),
            ("cached", lambda: scenarios.one_request_cached(b)),
            ("captioned", lambda: scenarios.one_request_captioned(b)),
            ("pipelines", lambda: scenarios.pipelines(b, cfg["batch1"])),
            ("batch8", lambda: scenarios.batch8(b)),
            ("memory", lambda: scenarios.memory(b)),
        ]
        shown: set[str] = set()
        for key, step in steps:
            b.exact_tokens(cfg["tokens"])
            out = step()
            if key == "pipelines":
                results["naive"], results["throughput"] = out
            elif key == "batch8":
                results["batch8_cached"], results["batch8_captioned"] = out
            else:
                results[key] = out
            for label, value, tgt, ok in report.rows(results):
                if label not in shown:
                    shown.add(label)
                    print(f"  {label}: {value:.3f} (target {tgt}, met: {ok})", flush=True)
        results["meta"] = {
            "machine": name,
            "device_note": note,
            "device": device,
            "model": bench_model.describe(vlm),
            "spec": SHAPES[args.shape] if args.shape else cfg["spec"],
            "shape": args.shape,
            "tokens": cfg["tokens"],
            "repeats": cfg["repeats"],
            "quick": args.quick,
            "command": "python -m bench"
            + (" --quick" if args.quick else "")
            + (f" --shape {args.shape}" if args.shape else ""),
            "date": dt.date.today().isoformat(),
            "python": sys.version.split()[0],
            "measured": measured_change(),
        }
    readme = None if (args.quick or args.no_readme or args.shape) else ROOT / "README.md"
    stem = report.write(results, args.out / args.shape if args.shape else args.out, readme)
    print(report.markdown(results))
    print(f"wrote {stem}.json, .png, .md" + (" and the README table" if readme else ""))
    return 0
