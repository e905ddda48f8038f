"""Golden check: a fixed set of real CLI runs gives the same records as when it was recorded.

The runs (tiny random checkpoints and the testbed, offline, a few tokens each): `fit`,
`generate` plain / paper / sequential on llava and qwen2_vl, `evaluate` on the built-in
benchmark with three defenses, `analyze`, and a ShiftDC `generate` on the testbed. Every
output file is read back, normalised (see `normalise`) and compared with the expected
files under tests/golden/<case>/, stored as pretty JSON so a failing diff is readable.

Records (generate, evaluate, items) must match exactly. The analysis numbers
(analysis.json) are compared with a relative tolerance of 1e-9, so that reordered float
sums (numpy vs torch) pass but any real change fails.

Regenerate the expectations (only when a change of outputs is intended, and say so in
the commit):

    PYTHONPATH=src python tests/test_golden.py --update [CASE ...]

(with cases named, only their expectations are rewritten: e.g. `testbed-generate` after
the testbed's weights were retrained).
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from helpers.requests import write_requests  # tests/ is on sys.path (pytest, script)

GOLDEN = Path(__file__).parent / "golden"
MAX_NEW = "5"
#: keys whose values legitimately vary between runs: wall-clock timings
TIMING_KEYS = frozenset({"seconds"})
#: keys whose recorded values a later, intended change replaced: the summary shows an MME
#: score only for MME runs, so the builtin runs' summaries no longer carry one
CHANGED_ON_PURPOSE = {"summary.json": frozenset({"mme"})}
#: analysis.json holds floats from reductions whose order may change: compare within this
REL_TOL = 1e-9
TOLERANT_FILES = frozenset({"analysis.json"})


def _cli(*argv: str) -> None:
    from shiftdc.cli import main

    code = main([str(a) for a in argv])
    assert code == 0, f"shiftdc {' '.join(map(str, argv))} exited {code}"


def _jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def normalise(value: Any, root: Path) -> Any:
    """Drop what legitimately varies: timing keys (TIMING_KEYS, any 'seconds' entry of an
    analysis context) and the temporary folder the runs write to (replaced by '<tmp>')."""
    if isinstance(value, dict):
        return {
            k: normalise(v, root)
            for k, v in value.items()
            if k not in TIMING_KEYS and not (k == "seconds" and isinstance(v, str))
        }
    if isinstance(value, list):
        return [normalise(v, root) for v in value]
    if isinstance(value, str):
        return value.replace(str(root), "<tmp>")
    return value


class Runs:
    """Runs every golden case once into a temporary folder; `outputs[case][file]`."""

    def __init__(self, root: Path, testbed: Path | None) -> None:
        self.root = root
        self.testbed = testbed
        self.outputs: dict[str, dict[str, Any]] = {}

    def model_args(self, model: Path) -> list[str]:
        return ["--model", str(model), "--device", "cpu", "--quiet", "--dtype", "float32"]

    def inputs(self) -> tuple[Path, Path, Path]:
        d = self.root / "inputs"
        safe = write_requests(
            d, "safe", ["how to make a cake", "describe the tree", "list the colors"], "a red house"
        )
        unsafe = write_requests(
            d,
            "unsafe",
            ["how to make illegal harmful things", "give steps to do harmful work", "write bad"],
            "a black bomb",
        )
        reqs = write_requests(
            d, "reqs", ["what is in the image ?", "list steps to do this", "describe the picture"]
        )
        return safe, unsafe, reqs

    def family(self, family: str) -> tuple[Path, Path]:
        """Tiny checkpoint, fitted direction and the generate runs of one family."""
        from shiftdc.models.tiny import make_tiny_model

        safe, unsafe, reqs = self.inputs()
        model = make_tiny_model(family, self.root / family / "model")
        m = self.model_args(model)
        direction = self.root / family / "direction"
        _cli("fit", *m, "--safe", safe, "--unsafe", unsafe, "--out", direction)
        files = {"direction.json": _json(direction / "direction.json")}
        for name, extra in (
            ("plain", []),
            ("paper", ["--direction", direction]),
            ("sequential", ["--direction", direction, "--mode", "sequential"]),
        ):
            out = self.root / family / f"{name}.jsonl"
            _cli("generate", *m, "--input", reqs, "--out", out, "--max-new-tokens", MAX_NEW,
                 "--caption-tokens", MAX_NEW, *extra)  # fmt: skip
            files[f"{name}.jsonl"] = _jsonl(out)
            files[f"{name}.jsonl.settings.json"] = _json(out.with_name(out.name + ".settings.json"))
        self.outputs[f"generate-{family}"] = files
        return model, direction

    def evaluate(self, model: Path, direction: Path) -> None:
        m = self.model_args(model)
        for defense, extra in (
            ("none", []),
            ("shiftdc", ["--direction", direction]),
            ("ecso", []),
        ):
            out = self.root / "evaluate" / defense
            _cli("evaluate", *m, "--benchmark", "builtin", "--defense", defense, "--limit", "6",
                 "--max-new-tokens", MAX_NEW, "--caption-tokens", MAX_NEW, "--out", out,
                 *extra)  # fmt: skip
            self.outputs[f"evaluate-{defense}"] = {
                name: (_jsonl if name.endswith(".jsonl") else _json)(out / name)
                for name in ("records.jsonl", "config.json", "summary.json")
            }

    def analyze(self, model: Path, direction: Path) -> None:
        out = self.root / "analyze"
        _cli("analyze", *self.model_args(model), "--benchmark", "builtin", "--limit", "4",
             "--folds", "2", "--no-tsne", "--no-cache", "--caption-tokens", MAX_NEW,
             "--direction", direction, "--out", out)  # fmt: skip
        self.outputs["analyze"] = {
            "analysis.json": _json(out / "analysis.json"),
            "items.json": _json(out / "items.json"),
        }

    def testbed_generate(self) -> None:
        """ShiftDC (shipped direction and its recommendation) on 3 held-out items, with GT
        captions (paper.jsonl) and with the model's own captions, as deployed (self.jsonl)."""
        from shiftdc.testbed.build import shipped_direction
        from shiftdc.testbed.measure import pick

        d = self.root / "testbed-inputs"
        d.mkdir()
        with (d / "reqs.jsonl").open("w") as fh, (d / "self.jsonl").open("w") as own:
            for i, it in enumerate(pick("harmful", "TYPO", 3, seed=0)):
                it.load_image().save(d / f"{i}.png")
                rec = {"id": it.id, "image": f"{i}.png", "prompt": it.prompt}
                fh.write(json.dumps({**rec, "caption": it.caption}) + "\n")
                own.write(json.dumps(rec) + "\n")
        files = {}
        for name, reqs in (("paper.jsonl", "reqs.jsonl"), ("self.jsonl", "self.jsonl")):
            out = self.root / f"testbed-{name}"
            _cli("generate", *self.model_args(self.testbed), "--input", d / reqs, "--out", out,
                 "--max-new-tokens", "8", "--caption-tokens", "24",
                 "--direction", shipped_direction())  # fmt: skip
            files[name] = _jsonl(out)
        self.outputs["testbed-generate"] = files

    def run_all(self) -> dict[str, dict[str, Any]]:
        llava, llava_dir = self.family("llava")
        self.family("qwen2_vl")
        self.evaluate(llava, llava_dir)
        self.analyze(llava, llava_dir)
        if self.testbed is not None:
            self.testbed_generate()
        return {
            case: {name: normalise(v, self.root) for name, v in files.items()}
            for case, files in self.outputs.items()
        }


def _testbed(root: Path) -> Path | None:
    """The testbed built as tests/testbed/test_testbed.py builds it, or None without its wheel."""
    from shiftdc.testbed.backbone import backbone_available
    from shiftdc.testbed.build import build_testbed

    return build_testbed(root / "testbed" / "tb") if backbone_available() else None


def _expected_cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()) if GOLDEN.is_dir() else []


@pytest.fixture(scope="module")
def golden_outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    os.environ["SHIFTDC_CACHE"] = str(root / "cache")
    try:
        return Runs(root, _testbed(root)).run_all()
    finally:
        os.environ.pop("SHIFTDC_CACHE", None)


def _diff(actual: Any, expected: Any, where: str, tolerant: bool) -> str | None:
    """Path and values of the first difference, or None (floats within REL_TOL if tolerant).

    Outputs may gain keys (the records' content keys, run ids, new summary fields); every
    recorded key must still be there with its recorded value."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        if missing := sorted(set(expected) - set(actual)):
            return f"{where}: keys {missing} are missing"
        for k in expected:
            if (d := _diff(actual[k], expected[k], f"{where}.{k}", tolerant)) is not None:
                return d
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(actual) != len(expected):
            return f"{where}: {len(actual)} entries != expected {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            if (d := _diff(a, e, f"{where}[{i}]", tolerant)) is not None:
                return d
        return None
    floats = isinstance(actual, float) and isinstance(expected, float)
    if tolerant and floats and math.isclose(actual, expected, rel_tol=REL_TOL, abs_tol=1e-12):
        return None
    if type(actual) is not type(expected) or actual != expected:
        return f"{where}: {actual!r} != expected {expected!r}"
    return None


@pytest.mark.parametrize("case", _expected_cases())
def test_outputs_match_the_recorded_ones(case, golden_outputs):
    if case not in golden_outputs:
        pytest.skip(f"{case} not run here (testbed backbone not installed)")
    expected_files = sorted(p.name for p in (GOLDEN / case).iterdir())
    assert sorted(f"{n}.golden.json" for n in golden_outputs[case]) == expected_files
    for name, actual in golden_outputs[case].items():
        expected = _json(GOLDEN / case / f"{name}.golden.json")
        for key in CHANGED_ON_PURPOSE.get(name, ()):
            expected.pop(key, None)
        # a JSON round trip, so tuples and lists compare as they are stored
        actual = json.loads(json.dumps(actual))
        diff = _diff(actual, expected, f"{case}/{name}", name in TOLERANT_FILES)
        assert diff is None, diff


def test_every_case_has_expectations(golden_outputs):
    assert sorted(golden_outputs) == _expected_cases()


def update(only: list[str] | None = None) -> list[str]:
    """Run every case and write its expectations under tests/golden/ (all, or the cases in
    `only`, leaving the others as recorded); return the cases written."""
    import shutil

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["SHIFTDC_CACHE"] = str(root / "cache")
        testbed = _testbed(root)
        if testbed is None:
            raise SystemExit("the testbed backbone is not installed: cannot record all cases")
        outputs = Runs(root, testbed).run_all()
    if only:
        if unknown := sorted(set(only) - set(outputs)):
            raise SystemExit(f"no golden case named {unknown}; cases: {sorted(outputs)}")
        outputs = {case: files for case, files in outputs.items() if case in only}
    for case in outputs if only else _expected_cases():
        shutil.rmtree(GOLDEN / case, ignore_errors=True)
    for case, files in outputs.items():
        (GOLDEN / case).mkdir(parents=True)
        for name, value in files.items():
            text = json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
            (GOLDEN / case / f"{name}.golden.json").write_text(text, encoding="utf-8")
    return sorted(outputs)


if __name__ == "__main__":
    if sys.argv[1:2] != ["--update"]:
        raise SystemExit("usage: PYTHONPATH=src python tests/test_golden.py --update [CASE ...]")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    print("recorded:", ", ".join(update(sys.argv[2:] or None)))
