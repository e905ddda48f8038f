"""`shiftdc caption` and `generate` under torchrun (2 ranks, gloo) equal one process; a run
killed with rank files left behind finishes in one process."""

import json
from pathlib import Path

import pytest

from shiftdc.cli import main
from tests.helpers.launch import torchrun
from tests.helpers.requests import write_requests

FLOATS = ("shift_norm", "shift_along_s", "correction_norm")
PROMPTS = ["what is in the image ?", "list steps to do this", "how to make a cake", "hello"]


def _lines(path: Path, approx: bool = False) -> list[dict]:
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    for r in recs:
        for k in FLOATS:
            if approx and r.get(k) is not None:
                r[k] = pytest.approx(r[k], rel=1e-3, abs=1e-6)
    return recs


@pytest.fixture(scope="module")
def setup(tiny_dir, tmp_path_factory):
    """Model, 7 requests, a direction, and the one-process outputs (made in this process)."""
    root = tmp_path_factory.mktemp("jobs")
    reqs = write_requests(root, "reqs", [PROMPTS[i % 4] + " ?" * i for i in range(7)])
    safe = write_requests(root, "safe", ["how to make a cake", "a cat"], "a red house")
    unsafe = write_requests(root, "unsafe", ["how to do harmful work", "steal"], "a bomb")
    m = ["--model", str(tiny_dir("llava")), "--device", "cpu", "--quiet", "--batch-size", "1"]
    mp = pytest.MonkeyPatch()
    mp.setenv("SHIFTDC_CACHE", str(root / "cache-one"))
    try:
        d = ["fit", *m, "--safe", str(safe), "--unsafe", str(unsafe), "--out", str(root / "d")]
        assert main(d) == 0
        cap = ["caption", *m, "--input", str(reqs), "--max-new-tokens", "4"]
        gen = ["generate", *m, "--input", str(reqs), "--max-new-tokens", "5"]
        gen += ["--caption-tokens", "4", "--direction", str(root / "d")]
        for args, name in ((cap, "cap"), (gen, "gen")):
            assert main([*args, "--out", str(root / f"{name}1.jsonl")]) == 0
    finally:
        mp.undo()
    return root, cap, gen


@pytest.mark.parametrize("command", ["cap", "gen"])
def test_two_ranks_equal_one_process(setup, command, tmp_path):
    root, cap, gen = setup
    args, one = (cap if command == "cap" else gen), root / f"{command}1.jsonl"
    out = tmp_path / f"{command}2.jsonl"
    res = torchrun(2, [*args, "--out", str(out)], tmp_path / "c")
    assert res.returncode == 0, res.stdout + res.stderr
    assert _lines(out) == _lines(one, approx=True)  # item by item, in input order
    if command == "cap":
        assert out.read_bytes() == one.read_bytes()
    side = Path(f"{out}.settings.json")
    assert side.read_text() == Path(f"{one}.settings.json").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, side.name, "c"])
    assert res.stdout.count(" done") == 1  # rank 0 alone reports
    assert "[rank 1/2]" in res.stderr


def test_killed_caption_run_finishes_in_one_process(setup, tmp_path, monkeypatch, capsys):
    """OUT holds 2 records, rank 1 of a killed 2-rank run wrote 2 more and a torn line: one
    process makes only the other 3 and leaves OUT as an uninterrupted run would."""
    root, cap, _ = setup
    one = root / "cap1.jsonl"
    expected = one.read_text().splitlines(keepends=True)
    out = tmp_path / "cap.jsonl"
    out.write_text("".join(expected[:2]))
    Path(f"{out}.settings.json").write_text(Path(f"{one}.settings.json").read_text())
    part = tmp_path / "cap.rank1-of-2.jsonl"
    part.write_text(expected[3] + expected[5] + expected[4][:20])
    monkeypatch.setenv("SHIFTDC_CACHE", str(tmp_path / "cache"))
    assert main([*cap, "--out", str(out)]) == 0
    assert out.read_text() == one.read_text()
    assert not part.exists()
    assert "4 of 7 already done" in capsys.readouterr().out
    assert len(list((tmp_path / "cache" / "captions").rglob("*.json"))) == 3  # made 3 only
