"""Evaluation runs end to end from the CLI on a tiny model: resume, compare, rescore, errors."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from shiftdc.cli import main

FAST = ["--device", "cpu", "--quiet", "--max-new-tokens", "4", "--caption-tokens", "4"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SHIFTDC_CACHE", str(tmp_path / "cache"))


def records(run):
    return [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]


def test_evaluate_compare_rescore_end_to_end(tiny_dir, tmp_path, capsys):
    model = str(tiny_dir("llava"))
    runs = {}
    for defense in ("none", "shiftdc", "ecso", "adashield"):
        run = tmp_path / defense
        assert (
            main(
                [
                    "evaluate",
                    "--model",
                    model,
                    "--defense",
                    defense,
                    "--out",
                    str(run),
                    "--limit",
                    "30",
                    *FAST,
                ]
            )
            == 0
        )
        recs = records(run)
        assert len(recs) == 30 and len({r["id"] for r in recs}) == 30
        assert {r["kind"] for r in recs} == {"harmful", "benign", "utility"}
        assert all(r["defense"] == defense and r["judge"] == "keyword" for r in recs)
        summary = json.loads((run / "summary.json").read_text())
        for key in ("asr", "n", "judge", "defense", "by_scenario", "by_attack"):
            assert key in summary
        assert 0.0 <= summary["asr"] <= 1.0 and summary["judge"] == "keyword"
        harmful = [r for r in recs if r["kind"] == "harmful"]
        assert summary["n"] == len(harmful)
        assert summary["asr"] == pytest.approx(
            sum(r["verdict"]["harmful"] for r in harmful) / len(harmful)
        )
        assert (run / "report.md").is_file() and (run / "report.html").is_file()
        assert list(run.glob("*.png"))
        runs[defense] = run
    report = (runs["shiftdc"] / "report.md").read_text()
    assert "disjoint" in report and (runs["shiftdc"] / "direction" / "direction.json").is_file()
    shift_recs = [r for r in records(runs["shiftdc"]) if r["attack"] != "text"]
    assert all(r["calibrated"] for r in shift_recs if not r["error"])

    capsys.readouterr()
    table_path = tmp_path / "table.md"
    assert main(["compare", *(str(r) for r in runs.values()), "--out", str(table_path)]) == 0
    table = capsys.readouterr().out
    header = (
        table.splitlines()[0]
        if table.startswith("|")
        else next(line for line in table.splitlines() if line.startswith("|"))
    )
    assert [c in header for c in ("Direct", "ECSO", "AdaShield", "ShiftDC")] == [True] * 4
    assert header.index("Direct") < header.index("ECSO") < header.index("ShiftDC")
    assert table_path.read_text() == table.rstrip("\n") + "\n" or table_path.is_file()

    # re-scoring with a keyword judge that treats empty answers literally, no regeneration
    assert main(["rescore", str(runs["none"]), "--judge", "keyword"]) == 0
    rescored = runs["none"] / "rescore-keyword"
    assert [r["response"] for r in records(rescored)] == [
        r["response"] for r in records(runs["none"])
    ]
    assert (
        json.loads((rescored / "summary.json").read_text())["asr"]
        == json.loads((runs["none"] / "summary.json").read_text())["asr"]
    )


def test_killed_run_resumes_without_loss_or_duplicates(tiny_dir, tmp_path):
    run = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "shiftdc.cli",
        "evaluate",
        "--model",
        str(tiny_dir("llava")),
        "--defense",
        "shiftdc",
        "--out",
        str(run),
        "--limit",
        "48",
        "--batch-size",
        "2",
        "--device",
        "cpu",
        "--quiet",
        "--max-new-tokens",
        "24",
        "--caption-tokens",
        "8",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    path = run / "records.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if path.is_file() and len(path.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert path.is_file(), "the run wrote no record within 120 s"
    partial = len(path.read_text().splitlines())
    assert 4 <= partial < 48, "the run must be killed mid-way for this test to mean anything"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ids = [r["id"] for r in records(run)]
    assert len(ids) == 48 and len(set(ids)) == 48
    assert "resuming" in done.stdout


def test_mixing_settings_is_refused(tiny_dir, tmp_path, capsys):
    model = str(tiny_dir("llava"))
    run = str(tmp_path / "run")
    assert main(["evaluate", "--model", model, "--out", run, "--limit", "4", *FAST]) == 0
    assert (
        main(
            [
                "evaluate",
                "--model",
                model,
                "--out",
                run,
                "--limit",
                "4",
                "--defense",
                "reminder",
                *FAST,
            ]
        )
        == 2
    )
    assert "defense='none'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--benchmark", "nope", "valid: builtin"),
        ("--defense", "nope", "valid: none"),
        ("--judge", "nope", "valid: keyword"),
    ],
)
def test_unknown_names_list_the_valid_ones(flag, value, message, tiny_dir, tmp_path, capsys):
    argv = [
        "evaluate",
        "--model",
        str(tiny_dir("llava")),
        "--out",
        str(tmp_path / "r"),
        flag,
        value,
        *FAST,
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_missing_data_dir_and_corrupt_image(tiny_dir, tmp_path, capsys):
    model = str(tiny_dir("llava"))
    assert (
        main(
            [
                "evaluate",
                "--model",
                model,
                "--benchmark",
                "figstep",
                "--out",
                str(tmp_path / "r"),
                *FAST,
            ]
        )
        == 2
    )
    assert "--data-dir" in capsys.readouterr().err
    data = tmp_path / "figstep"
    (data / "images" / "SafeBench").mkdir(parents=True)
    with (data / "safebench.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["dataset", "category_id", "task_id", "category_name", "question", "instruction"]
        )
        for t in (1, 2, 3):
            w.writerow(
                [
                    "SafeBench",
                    "1",
                    str(t),
                    "Illegal Activity",
                    f"How to do bad {t}?",
                    f"Steps to do bad {t}.",
                ]
            )
    folder = data / "images" / "SafeBench"
    Image.new("RGB", (20, 20), "white").save(folder / "query_SafeBench_1_1_6.png")
    (folder / "query_SafeBench_1_2_6.png").write_bytes(b"\x89PNG broken")
    Image.new("RGB", (20, 20), "white").save(folder / "query_SafeBench_1_3_6.png")
    run = tmp_path / "fs"
    assert (
        main(
            [
                "evaluate",
                "--model",
                model,
                "--benchmark",
                "figstep",
                "--data-dir",
                str(data),
                "--out",
                str(run),
                "--max-failed",
                "0.5",
                *FAST,
            ]
        )
        == 0
    )
    recs = {r["id"]: r for r in records(run)}
    assert len(recs) == 3
    errors = [r for r in recs.values() if r["error"]]
    assert len(errors) == 1 and "query_SafeBench_1_2_6.png" in errors[0]["error"]
    assert json.loads((run / "summary.json").read_text())["n_errors"] == 1
