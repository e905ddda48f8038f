"""`shiftdc tune` end to end on the tiny LLaVA: outputs, the stored recommendation, resuming."""

import json

from shiftdc.cli import main
from shiftdc.method.direction import SafetyDirection
from shiftdc.tuning.report import row


def test_tune_writes_table_plot_and_recommendation_and_resumes(
    tiny_dir, direction, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SHIFTDC_CACHE", str(tmp_path / "cache"))
    d, out = tmp_path / "dir", tmp_path / "out"
    direction.save(d)
    args = ["tune", "--model", str(tiny_dir("llava")), "--device", "cpu", "--quiet"]
    args += ["--dtype", "float32", "--direction", str(d), "--out", str(out), "--split", "eval"]
    args += ["--limit", "2", "--utility", "2", "--layers", "2:3,1:3", "--alpha", "1,2"]
    args += ["--modes", "paper,sequential", "--max-new-tokens", "3", "--caption-tokens", "3"]
    assert main(args) == 0
    table = json.loads((out / "table.json").read_text())
    names = [r["config"] for r in table["rows"]]
    assert names[:2] == ["direct", "counterpart"] and len(names) == 2 + 2 * 2 * 2
    for r in table["rows"]:
        assert (r["n_harmful"], r["n_benign"]) == (2, 2)
        recs = [json.loads(x) for x in (out / "records" / f"{r['config']}.jsonl").open()]
        assert row(r["config"], recs, None)["harmful_refusal"] == r["harmful_refusal"]
        assert {x.get("form") for x in recs if x["kind"] != "utility"} == {"TYPO"}
    assert (out / "pareto.png").stat().st_size > 1000 and "Rule:" in (out / "table.md").read_text()
    rec = SafetyDirection.load(d).recommended
    assert rec == json.loads((out / "recommendation.json").read_text())
    assert f"{rec['mode']}-L" in table["recommended"] and rec["rule"] == table["rule"]
    assert rec["captions"] == "self"  # the caption source it was tuned with
    assert rec["tuning_set"] == "builtin:eval:TYPO"  # split and image forms tuned on

    before = {p.name: p.read_text() for p in (out / "records").iterdir()}
    cut = out / "records" / f"{names[-1]}.jsonl"  # an interrupted run: 2 of 6 answers kept
    cut.write_text("".join(before[cut.name].splitlines(keepends=True)[:2]))
    capsys.readouterr()
    assert main(args) == 0  # 2 + 4 + 8 * 6 answers, 4 of them still to do
    assert "54 of 58 answers already done" in capsys.readouterr().out
    assert {p.name: p.read_text() for p in (out / "records").iterdir()} == before

    assert main([*args[:-4], "--max-new-tokens", "4", "--caption-tokens", "3"]) == 2
    assert "max_new_tokens=3" in capsys.readouterr().err  # other settings: refused


def test_unknown_split_is_one_line_exit_2(tiny_dir, direction, tmp_path, capsys):
    direction.save(tmp_path / "dir")
    args = ["tune", "--model", str(tiny_dir("llava")), "--device", "cpu", "--quiet"]
    args += ["--direction", str(tmp_path / "dir"), "--out", str(tmp_path / "o")]
    assert main([*args, "--split", "nosuch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "split 'nosuch' is not available" in err and "--input" in err


def test_failed_default_run_removes_its_direction_copy(
    tiny_dir, direction, tmp_path, monkeypatch, capsys
):
    """Without --model, tune works on a copy of the shipped direction in OUT; a run refused
    for bad input leaves neither the copy nor an empty OUT behind, and keeps a copy it did
    not make."""
    import shiftdc.testbed.build as build

    shipped = tmp_path / "shipped"
    direction.save(shipped)
    monkeypatch.setattr(build, "ensure_testbed", lambda: tiny_dir("llava"))
    monkeypatch.setattr(build, "shipped_direction", lambda: shipped)
    out = tmp_path / "o"
    args = ["tune", "--device", "cpu", "--quiet", "--out", str(out), "--layers", "40:45"]
    assert main(args) == 2
    assert "40" in capsys.readouterr().err and not out.exists()

    (out / "direction").mkdir(parents=True)  # a copy from an earlier run: kept
    (out / "direction" / "marker").write_text("earlier")
    assert main(args) == 2
    assert (out / "direction" / "marker").read_text() == "earlier"
