"""Run the CLI under torchrun (gloo, CPU, one thread per process) for the data-parallel tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def env(cache: Path) -> dict[str, str]:
    e = dict(os.environ)
    e.update(
        PYTHONPATH=os.pathsep.join([str(SRC), e.get("PYTHONPATH", "")]),
        OMP_NUM_THREADS="1",
        SHIFTDC_CACHE=str(cache),
        SHIFTDC_DIST_BACKEND="gloo",
        SHIFTDC_DIST_TIMEOUT="120",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        CUDA_VISIBLE_DEVICES="",
    )
    return e


def torchrun(nproc: int, args: list[str], cache: Path, **kw) -> subprocess.CompletedProcess:
    """`python -m torch.distributed.run --nproc-per-node N -m shiftdc ARGS` (N=1: plain)."""
    head = [sys.executable]
    if nproc > 1:
        head += ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
    cmd = [*head, "-m", "shiftdc", *args]
    return subprocess.run(cmd, env=env(cache), capture_output=True, text=True, timeout=300, **kw)


def popen(nproc: int, args: list[str], cache: Path) -> subprocess.Popen:
    head = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd = [*head, f"--nproc-per-node={nproc}", "-m", "shiftdc", *args]
    return subprocess.Popen(
        cmd, env=env(cache), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
