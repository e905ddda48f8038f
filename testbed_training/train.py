"""Retrain every committed testbed weight in order: `python -m testbed_training.train --all`.

Never needed by users or CI (the weights are committed). The committed alignment LoRA took
~13 min on 2 CPU cores (2 rounds); the committed vision tower and projector were trained on
one H100 (`--device cuda --workers 14`): 5 min reading pre-training (3,340 steps of 128
pictures) and 10 min projector + tower tuning (3,232 steps of 32 examples). Seeds are fixed
in each stage; the vision stages stop on a time budget, so another machine takes a different
number of steps: close, not bit-identical. On a CPU the same budgets give ~30x fewer steps;
raise the stages' `--minutes` (`--stage train_reader` etc. run one stage at a time).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from shiftdc.testbed.assemble import WEIGHTS_DIR

STAGES = ("train_align", "train_reader", "train_projector")
STAGE_ARGS = {
    "train_align": ["--rounds", "2"],
    "train_reader": ["--minutes", "5", "--batch", "128"],
    "train_projector": ["--minutes", "10", "--batch", "32", "--tower-lr", "3e-4"],
}


def main() -> None:
    """Run the chosen stages as subprocesses, writing into --out."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--all", action="store_true", help="run all three stages")
    ap.add_argument("--stage", choices=STAGES, action="append", default=[])
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    ap.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda, ...")
    ap.add_argument("--workers", type=int, default=0, help="batch-building processes")
    a = ap.parse_args()
    stages = list(STAGES) if a.all else a.stage
    if not stages:
        ap.error("pass --all or at least one --stage")
    for stage in stages:
        extra = list(STAGE_ARGS[stage])
        if stage == "train_projector":
            extra += ["--weights", str(a.out)]
        extra += ["--device", a.device]
        if stage != "train_align":
            extra += ["--workers", str(a.workers)]
        cmd = [sys.executable, "-m", f"testbed_training.{stage}", "--out", str(a.out), *extra]
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
