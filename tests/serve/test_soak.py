"""The soak script's short CI setting: a mixed load on a real server ends clean."""

from __future__ import annotations

import json

from bench.soak import main


def test_soak_short_setting(tmp_path):
    out = tmp_path / "soak.json"
    code = main(["--requests", "120", "--concurrency", "32", "--out", str(out)])
    stats = json.loads(out.read_text())
    assert stats["server_errors"] == 0, stats
    assert not stats["mismatches"], stats["mismatches"]
    assert stats["rss_growth"] is not None and stats["rss_growth"] <= 0.10, stats["rss_kb"]
    assert sum(stats["status"].values()) == 120
    assert any(s.startswith("4") for s in stats["status"])  # the bad requests were refused
    assert code == 0 and stats["server_exit"] == 0
