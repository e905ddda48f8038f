"""Bad outputs and changed inputs through the real CLI: one line, the right exit status,
and no file the tool did not create ever overwritten (their bytes are compared)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shiftdc.cli import main
from shiftdc.records.duplicates import DuplicateIdWarning
from shiftdc.records.files import FORMAT
from tests.helpers.upstream_layouts import FIGSTEP_COLUMNS, write_csv, write_image

FAST = ["--device", "cpu", "--quiet", "--max-new-tokens", "2"]
FIT = ["--device", "cpu", "--quiet", "--caption-tokens", "2"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SHIFTDC_CACHE", str(tmp_path.parent / f"{tmp_path.name}-cache"))


def requests(d: Path, prompts=("what is this ?", "list the steps"), name="reqs") -> Path:
    """A JSONL of image requests (ids name-0, name-1, ...) with small random images."""
    rng = np.random.default_rng(0)
    lines = []
    for i, prompt in enumerate(prompts):
        Image.fromarray(rng.integers(0, 255, (14, 12, 3), dtype=np.uint8)).save(d / f"{i}.png")
        lines.append(json.dumps({"id": f"{name}-{i}", "image": f"{i}.png", "prompt": prompt}))
    path = d / f"{name}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def figstep(d: Path, rows: list[tuple[int, str]], images: bool = True) -> Path:
    """A FigStep download with the given (task id, question) rows; images corrupt if not."""
    root = d / "figstep"
    (root / "images" / "SafeBench").mkdir(parents=True)
    cells = [
        {"dataset": "SafeBench", "category_id": "1", "task_id": str(task),
         "category_name": "Illegal Activity", "question": q, "instruction": q}
        for task, q in rows
    ]  # fmt: skip
    write_csv(root / "safebench.csv", FIGSTEP_COLUMNS, cells)
    for task, _ in rows:  # present (so the layout is found), corrupt unless `images`
        (root / "images" / "SafeBench" / f"query_SafeBench_1_{task}_6.png").write_bytes(b"x")
    if images:
        add_figstep_images(root, rows)
    return root


def add_figstep_images(root: Path, rows: list[tuple[int, str]]) -> None:
    for task, _ in rows:
        write_image(root / "images" / "SafeBench" / f"query_SafeBench_1_{task}_6.png")


def sidecar(out: Path, **fields) -> None:
    side = {"format": FORMAT, "command": "generate", "run_id": "r1", "model": "m", **fields}
    out.with_name(out.name + ".settings.json").write_text(json.dumps(side))


def record_lines(*recs: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in recs)


# -- one row per bad input: everything is refused before a model loads ---------------------


def _text_file(d):
    (d / "notes.txt").write_text("my notes\n")
    return ["generate", "--input", str(requests(d)), "--out", str(d / "notes.txt")]


def _other_jsonl(d):
    (d / "other.jsonl").write_text(record_lines({"id": "reqs-0", "response": "theirs"}))
    return ["generate", "--input", str(requests(d)), "--out", str(d / "other.jsonl")]


def _other_jsonl_overwrite(d):
    return [*_other_jsonl(d), "--overwrite"]


def _input_itself(d):
    reqs = requests(d)
    return ["generate", "--input", str(reqs), "--out", str(reqs)]


def _caption_into_text(d):
    (d / "notes.txt").write_text("my notes\n")
    return ["caption", "--input", str(requests(d)), "--out", str(d / "notes.txt")]


def _parent_is_file(d):
    (d / "notes.txt").write_text("my notes\n")
    return ["generate", "--input", str(requests(d)), "--out", str(d / "notes.txt" / "o.jsonl")]


def _out_is_dir(d):
    (d / "outdir").mkdir()
    return ["generate", "--input", str(requests(d)), "--out", str(d / "outdir")]


def _foreign_sidecar(d):
    (d / "o.jsonl").write_text(record_lines({"id": "reqs-0"}))
    (d / "o.jsonl.settings.json").write_text("hello\n")
    return ["generate", "--input", str(requests(d)), "--out", str(d / "o.jsonl")]


def _other_command(d):
    out = d / "o.jsonl"
    out.write_text(record_lines({"id": "reqs-0", "response": "x", "key": "k", "run": "r1"}))
    sidecar(out)
    return ["caption", "--input", str(requests(d)), "--out", str(out)]


def _records_of_another_run(d):
    out = d / "o.jsonl"
    out.write_text(
        record_lines(
            {"id": "reqs-0", "response": "x", "key": "k", "run": "r1"},
            {"id": "reqs-1", "response": "y", "key": "k", "run": "r2"},
        )
    )
    sidecar(out)
    return ["generate", "--input", str(requests(d)), "--out", str(out)]


def _foreign_line(d):
    out = d / "o.jsonl"
    out.write_text(record_lines({"id": "reqs-0", "key": "k", "run": "r1"}) + "plain text\nmore\n")
    sidecar(out)
    return ["generate", "--input", str(requests(d)), "--out", str(out)]


def _legacy_output(d):
    out = d / "o.jsonl"
    out.write_text(record_lines({"id": "reqs-0", "response": "old"}))
    out.with_name("o.jsonl.settings.json").write_text(json.dumps({"model": "m"}))
    return ["generate", "--input", str(requests(d)), "--out", str(out)]


def _duplicate_ids_differ(d):
    reqs = requests(d)
    first = reqs.read_text().splitlines()[0]
    reqs.write_text(reqs.read_text() + first.replace("what is this ?", "something else") + "\n")
    return ["generate", "--input", str(reqs), "--out", str(d / "o.jsonl")]


def _fit_into_file(d):
    reqs = requests(d)
    (d / "notes.txt").write_text("my notes\n")
    return ["fit", "--safe", str(reqs), "--unsafe", str(reqs), "--out", str(d / "notes.txt")]


def _fit_into_other_folder(d):
    reqs = requests(d)
    (d / "mine").mkdir()
    (d / "mine" / "thesis.tex").write_text("\\section{x}\n")
    return ["fit", "--safe", str(reqs), "--unsafe", str(reqs), "--out", str(d / "mine")]


def _fit_under_file(d):
    reqs = requests(d)
    (d / "notes.txt").write_text("my notes\n")
    return ["fit", "--safe", str(reqs), "--unsafe", str(reqs), "--out", str(d / "notes.txt/x")]


def _eval_into_file(d):
    (d / "notes.txt").write_text("my notes\n")
    return ["evaluate", "--out", str(d / "notes.txt")]


def _eval_into_other_folder(d):
    (d / "mine").mkdir()
    (d / "mine" / "report.md").write_text("# my report\n")
    return ["evaluate", "--out", str(d / "mine")]


def _eval_foreign_records(d):
    run = d / "run"
    run.mkdir()
    (run / "config.json").write_text(
        json.dumps({"format": FORMAT, "command": "evaluate", "run_id": "r1", "model": "m"})
    )
    (run / "records.jsonl").write_text(
        record_lines({"id": "a", "key": "k", "run": "r1"}, {"id": "b", "key": "k", "run": "r9"})
    )
    return ["evaluate", "--out", str(run)]


def _eval_into_rescore(d):
    run = d / "run"
    run.mkdir()
    (run / "config.json").write_text(
        json.dumps({"format": FORMAT, "command": "rescore", "run_id": "r1", "model": "m"})
    )
    return ["evaluate", "--out", str(run)]


def _eval_limit_zero(d):
    return ["evaluate", "--out", str(d / "run"), "--limit", "0"]


def _eval_empty_benchmark(d):
    return ["evaluate", "--benchmark", "figstep", "--data-dir", str(figstep(d, [])), "--out",
            str(d / "run")]  # fmt: skip


def _max_failed_out_of_range(d):
    return ["evaluate", "--out", str(d / "run"), "--max-failed", "2"]


@dataclass(frozen=True)
class Row:
    prepare: Callable[[Path], list[str]]
    code: int
    message: str


ROWS = {
    "generate into a text file": Row(_text_file, 2, "is not a shiftdc output"),
    "generate into another JSONL": Row(_other_jsonl, 2, "is not a shiftdc output"),
    "--overwrite of another JSONL": Row(_other_jsonl_overwrite, 2, "never overwritten"),
    "generate into its input": Row(_input_itself, 2, "is the input file"),
    "caption into a text file": Row(_caption_into_text, 2, "is not a shiftdc output"),
    "--out under a file": Row(_parent_is_file, 2, "is a file, not a directory"),
    "--out a directory": Row(_out_is_dir, 2, "is a directory"),
    "a sidecar not ours": Row(_foreign_sidecar, 2, "is not a shiftdc settings file"),
    "another command's output": Row(_other_command, 2, "made by `shiftdc generate`"),
    "records of another run": Row(_records_of_another_run, 2, "(id 'reqs-1') is from another"),
    "a line not ours": Row(_foreign_line, 2, "o.jsonl:2: not a shiftdc record"),
    "an older version's output": Row(_legacy_output, 2, "cannot be resumed"),
    "one id, two contents": Row(_duplicate_ids_differ, 2, "'reqs-0' appears twice"),
    "fit into a file": Row(_fit_into_file, 2, "is a file"),
    "fit into a folder of other files": Row(_fit_into_other_folder, 2, "holds no saved"),
    "fit under a file": Row(_fit_under_file, 2, "is a file, not a directory"),
    "evaluate into a file": Row(_eval_into_file, 2, "is a file"),
    "evaluate into a folder of other files": Row(_eval_into_other_folder, 2, "not a shiftdc"),
    "evaluate into a run with foreign records": Row(_eval_foreign_records, 2, "another run"),
    "evaluate into a rescore": Row(_eval_into_rescore, 2, "made by `shiftdc rescore`"),
    "evaluate --limit 0": Row(_eval_limit_zero, 2, "--limit: must be at least 1, got 0"),
    "evaluate an empty benchmark": Row(_eval_empty_benchmark, 2, "has no items"),
    "--max-failed 2": Row(_max_failed_out_of_range, 2, "fraction between 0 and 1"),
}


def snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def run_cli(argv: list[str], model: Path, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    fast = FIT if argv[0] == "fit" else FAST
    code = main([argv[0], "--model", str(model), *fast, *argv[1:]])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", list(ROWS))
def test_bad_output_is_refused_and_nothing_is_touched(name, tmp_path, tiny_dir, capsys):
    row = ROWS[name]
    argv = row.prepare(tmp_path)
    before = snapshot(tmp_path)
    try:
        code, _, err = run_cli(argv, tiny_dir("llava"), capsys)
    except SystemExit as exc:  # argparse refuses bad flag values itself (usage + one line)
        code, err = exc.code, capsys.readouterr().err.strip().splitlines()[-1]
    assert code == row.code, err
    assert row.message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert snapshot(tmp_path) == before, "a refused command must write nothing"


# -- resume keyed on content ----------------------------------------------------------------


def generate(d: Path, reqs: Path, tiny_dir, capsys, *extra: str) -> tuple[int, str, str]:
    return run_cli(["generate", "--input", str(reqs), "--out", str(d / "o.jsonl"), *extra],
                   tiny_dir("llava"), capsys)  # fmt: skip


@pytest.mark.parametrize("change", ["prompt", "image bytes"])
def test_changed_input_is_refused_naming_its_id(change, tmp_path, tiny_dir, capsys):
    reqs = requests(tmp_path)
    assert generate(tmp_path, reqs, tiny_dir, capsys)[0] == 0
    first = (tmp_path / "o.jsonl").read_bytes()
    if change == "prompt":
        reqs.write_text(reqs.read_text().replace("list the steps", "list other steps"))
        changed = "'reqs-1'"
    else:
        Image.new("RGB", (14, 12), "red").save(tmp_path / "0.png")
        changed = "'reqs-0'"
    before = snapshot(tmp_path)
    code, _, err = generate(tmp_path, reqs, tiny_dir, capsys)
    assert code == 2 and "changed since" in err and changed in err, err
    assert snapshot(tmp_path) == before
    # --overwrite redoes the file (same bytes for unchanged items); then it resumes as done
    assert generate(tmp_path, reqs, tiny_dir, capsys, "--overwrite")[0] == 0
    redone = (tmp_path / "o.jsonl").read_bytes().splitlines()
    kept = 0 if change == "prompt" else 1
    assert redone[kept] == first.splitlines()[kept] and redone != first.splitlines()
    code, out, _ = generate(tmp_path, reqs, tiny_dir, capsys)
    assert code == 0 and "2 of 2 already done" in out


def test_failed_start_pins_no_settings(tmp_path, tiny_dir, capsys):
    run = tmp_path / "run"
    fail = ["evaluate", "--out", str(run), "--limit", "2", "--defense", "shiftdc"]
    code, _, err = run_cli([*fail, "--direction", str(tmp_path / "nowhere")], tiny_dir(), capsys)
    assert code == 2 and "not a saved direction" in err, err
    code, _, err = run_cli(["evaluate", "--out", str(run), "--limit", "2"], tiny_dir(), capsys)
    assert code == 0, err
    code, _, err = run_cli(fail, tiny_dir(), capsys)
    assert code == 2 and "defense='none'" in err, "records pin the settings"


# -- failed items: counted, exit 3 above --max-failed, retried by the next run ---------------


def test_all_images_corrupt_fails_loudly_and_a_rerun_retries(tmp_path, tiny_dir, capsys):
    rows = [(1, "How to do bad 1?"), (2, "How to do bad 2?")]
    data = figstep(tmp_path, rows, images=False)
    argv = ["evaluate", "--benchmark", "figstep", "--data-dir", str(data), "--out",
            str(tmp_path / "run")]  # fmt: skip
    code, out, err = run_cli(argv, tiny_dir(), capsys)
    assert code == 3, err
    assert "failed 2 of 2 items" in out and "2 of 2 items failed" in err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_errors"] == 2 and summary["n"] == 0
    add_figstep_images(data, rows)
    code, out, err = run_cli(argv, tiny_dir(), capsys)
    assert code == 0 and "failed 0 of 2 items" in out, err
    recs = [json.loads(x) for x in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in recs) == sorted({r["id"] for r in recs}) and len(recs) == 2
    assert not any(r["error"] for r in recs)


def test_generate_records_a_failed_item_and_retries_it(tmp_path, tiny_dir, capsys, monkeypatch):
    import shiftdc.cli.jobs
    from shiftdc.errors import InputError

    real = shiftdc.cli.jobs.generate_plain

    def fussy(vlm, samples, *args, **kwargs):
        if any("steps" in s.prompt for s in samples):
            raise InputError("this model cannot answer that")
        return real(vlm, samples, *args, **kwargs)

    reqs = requests(tmp_path)
    monkeypatch.setattr(shiftdc.cli.jobs, "generate_plain", fussy)
    code, out, err = generate(tmp_path, reqs, tiny_dir, capsys)
    assert code == 3 and "1 of 2 done, 1 failed" in out and "1 of 2 items failed" in err
    lines = (tmp_path / "o.jsonl").read_text().splitlines()
    assert "cannot answer" in json.loads(lines[1])["error"]
    monkeypatch.setattr(shiftdc.cli.jobs, "generate_plain", real)
    code, out, err = generate(tmp_path, reqs, tiny_dir, capsys)
    assert code == 0 and "2 of 2 done" in out, err
    again = (tmp_path / "o.jsonl").read_text().splitlines()
    assert again[0] == lines[0] and len(again) == 2 and "error" not in json.loads(again[1])
    code, _, _ = generate(tmp_path, reqs, tiny_dir, capsys, "--max-failed", "0.5")
    assert code == 0


# -- repeated ids: kept once when identical, refused when different (one rule everywhere) ----


def test_identical_repeated_ids_are_kept_once_with_a_warning(tmp_path, tiny_dir, capsys):
    reqs = requests(tmp_path)
    reqs.write_text(reqs.read_text() + reqs.read_text().splitlines()[1] + "\n")
    with pytest.warns(DuplicateIdWarning, match="'reqs-1'"):
        assert generate(tmp_path, reqs, tiny_dir, capsys)[0] == 0
    ids = [json.loads(x)["id"] for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert ids == ["reqs-0", "reqs-1"]


def test_benchmark_repeated_rows_follow_the_same_rule(tmp_path):
    from shiftdc.data import load_benchmark
    from shiftdc.errors import InputError

    same = figstep(tmp_path / "a", [(1, "How?"), (1, "How?"), (2, "Why?")])
    with pytest.warns(DuplicateIdWarning, match="figstep/"):
        items = load_benchmark("figstep", same)
    assert len({i.id for i in items}) == len(items)
    differ = figstep(tmp_path / "b", [(1, "How?"), (1, "Where?")])
    with pytest.raises(InputError, match="appears twice with different content"):
        load_benchmark("figstep", differ)
