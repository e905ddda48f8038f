"""`shiftdc evaluate` under torchrun (2 ranks, gloo) equals one process; kills resume."""

import json
import os
import signal
import time
from pathlib import Path

import pytest

from shiftdc.cli import main
from tests.helpers.launch import popen, torchrun

ARGS = ["--defense", "shiftdc", "--limit", "12", "--max-new-tokens", "12"]
ARGS += ["--caption-tokens", "4", "--batch-size", "1", "--device", "cpu", "--quiet"]


FLOATS = ("shift_norm", "shift_along_s", "correction_norm")


def _records(run: Path, approx: bool = True) -> dict[str, dict]:
    """id -> record without its timing; measured floats as pytest.approx (batches differ)."""
    lines = (run / "records.jsonl").read_text().splitlines()
    recs = [json.loads(line) for line in lines]
    out = {}
    for r in recs:
        r.pop("seconds", None)
        for k in FLOATS:
            if approx and r.get(k) is not None:
                r[k] = pytest.approx(r[k], rel=1e-3, abs=1e-6)
        out[r["id"]] = r
    assert len(out) == len(recs), "an item was recorded twice"
    return out


@pytest.fixture(scope="module")
def setup(tiny_dir, tmp_path_factory):
    """The model, and the reference: one process, in this process."""
    root = tmp_path_factory.mktemp("par")
    model = str(tiny_dir("llava"))
    old = os.environ.get("SHIFTDC_CACHE")
    os.environ["SHIFTDC_CACHE"] = str(root / "cache-one")
    try:
        assert main(["evaluate", "--model", model, *ARGS, "--out", str(root / "one")]) == 0
    finally:
        if old is None:
            os.environ.pop("SHIFTDC_CACHE")
        else:
            os.environ["SHIFTDC_CACHE"] = old
    return model, root / "one"


def test_two_ranks_equal_one_process(setup, tmp_path):
    model, one = setup
    two = tmp_path / "two"
    res = torchrun(2, ["evaluate", "--model", model, *ARGS, "--out", str(two)], tmp_path / "c")
    assert res.returncode == 0, res.stdout + res.stderr
    assert _records(two, approx=False) == _records(one)
    assert [json.loads(x)["id"] for x in (two / "records.jsonl").read_text().splitlines()] == [
        json.loads(x)["id"] for x in (one / "records.jsonl").read_text().splitlines()
    ]
    assert json.loads((two / "summary.json").read_text()) == json.loads(
        (one / "summary.json").read_text()
    )
    assert not list(two.glob("records.rank*")), "rank files are merged away"
    assert res.stdout.count("ASR") == 1  # rank 0 alone reports
    assert "[rank 1/2]" in res.stderr  # logs name the rank


def _rank_pid(launcher: int, rank: int) -> int | None:
    """The pid of the torchrun worker with RANK=rank (a child of the launcher)."""
    try:
        kids = Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split()
    except OSError:
        return None
    for pid in kids:
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in env:
            return int(pid)
    return None


def test_killed_rank_resumes_with_one_process(setup, tmp_path, monkeypatch):
    model, one = setup
    run = tmp_path / "run"
    args = ["evaluate", "--model", model, *ARGS, "--out", str(run)]
    proc = popen(2, args, tmp_path / "c")
    part = run / "records.rank1-of-2.jsonl"
    deadline = time.monotonic() + 240
    while not (part.is_file() and part.read_text().count("\n") >= 1):
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    pid = _rank_pid(proc.pid, 1)
    if pid is None:
        proc.kill()
        pytest.skip("cannot find the rank's process (/proc children unavailable)")
    os.kill(pid, signal.SIGKILL)
    proc.wait(120)
    assert proc.returncode != 0
    recorded = sum(p.read_text().count("\n") for p in run.glob("records.rank*"))
    assert 1 <= recorded < 12, "the kill should land mid-run"
    assert not (run / "summary.json").exists()
    # resume the same run with one process (same caches): it finishes, nothing twice
    monkeypatch.setenv("SHIFTDC_CACHE", str(tmp_path / "c"))
    assert main(args) == 0
    assert _records(run, approx=False) == _records(one)
    assert json.loads((run / "summary.json").read_text()) == json.loads(
        (one / "summary.json").read_text()
    )
