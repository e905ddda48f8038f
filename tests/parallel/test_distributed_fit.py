"""`shiftdc fit` under torchrun (2 ranks, gloo) equals the single-process fit."""

import torch

from shiftdc.cli import main
from shiftdc.method.direction import SafetyDirection
from tests.helpers.launch import torchrun
from tests.helpers.requests import write_requests


def test_two_rank_fit_equals_one_process(tiny_dir, tmp_path, monkeypatch):
    d = tmp_path / "data"
    safe = write_requests(d, "safe", ["how to make a cake", "describe the tree", "a cat"], None)
    unsafe = write_requests(
        d, "unsafe", ["how to make illegal harmful things", "give steps to do harmful work"], None
    )
    base = ["fit", "--model", str(tiny_dir("llava")), "--device", "cpu", "--quiet"]
    base += ["--safe", str(safe), "--unsafe", str(unsafe), "--caption-tokens", "4"]
    monkeypatch.setenv("SHIFTDC_CACHE", str(tmp_path / "cache1"))
    assert main([*base, "--out", str(tmp_path / "one")]) == 0
    two = torchrun(2, [*base, "--out", str(tmp_path / "two")], tmp_path / "cache2")
    assert two.returncode == 0, two.stderr
    a = SafetyDirection.load(tmp_path / "one")
    b = SafetyDirection.load(tmp_path / "two")
    torch.testing.assert_close(b.vectors, a.vectors, rtol=1e-4, atol=1e-5)
    assert a.meta == b.meta
    assert two.stdout.count("direction fitted") == 1  # rank 0 reports (and writes) alone
    # both ranks captioned a shard into the shared cache: 5 entries, none twice
    assert len(list((tmp_path / "cache2" / "captions").rglob("*.json"))) == 5
