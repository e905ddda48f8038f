"""A direction's recommended configuration: stored in its JSON, the default wherever ShiftDC
runs, printed, and overridden by explicit values."""

import json

import pytest
import torch

from shiftdc.cli import main
from shiftdc.errors import InputError
from shiftdc.method.direction import META_FILE, TENSORS_FILE, SafetyDirection
from shiftdc.method.pipeline import ShiftDC

REC = {"mode": "sequential", "layers": [2, 3], "alpha": 2.0, "positions": "last", "rule": "r"}


@pytest.fixture
def recommended_dir(direction, tmp_path):
    d = tmp_path / "dir"
    direction.save(d)
    tensors = (d / TENSORS_FILE).read_bytes()
    SafetyDirection.load(d).recommend(dict(REC), d)
    assert (d / TENSORS_FILE).read_bytes() == tensors  # only the JSON is rewritten
    return d


def test_recommendation_round_trips_and_needs_its_fields(recommended_dir, direction):
    assert SafetyDirection.load(recommended_dir).recommended == REC
    assert json.loads((recommended_dir / META_FILE).read_text())["recommended"] == REC
    with pytest.raises(InputError, match="alpha"):
        direction.recommend({"mode": "paper", "layers": [1], "positions": "last"})


def test_shiftdc_defaults_to_the_recommendation_and_explicit_values_win(vlm, recommended_dir):
    d = SafetyDirection.load(recommended_dir)
    sdc = ShiftDC(vlm, d, progress=False)
    assert (sdc.mode, sdc.layers, sdc.alpha, sdc.positions) == ("sequential", [2, 3], 2.0, "last")
    assert "recommended: mode, layers, alpha, positions" in sdc.settings.describe()
    sdc = ShiftDC(vlm, d, mode="paper", alpha=0.5, progress=False)
    assert (sdc.mode, sdc.layers, sdc.alpha) == ("paper", [2, 3], 0.5)
    assert "explicit: mode, alpha" in sdc.settings.describe()
    plain = SafetyDirection(d.vectors, {k: v for k, v in d.meta.items() if k != "recommended"})
    sdc = ShiftDC(vlm, plain, progress=False)
    assert (sdc.mode, sdc.layers, sdc.alpha) == ("paper", [2, 3], 1.0)  # L//2..L-1 of 4


def test_the_printed_line_names_the_captions_the_recommendation_was_tuned_with(vlm, direction):
    d = SafetyDirection(direction.vectors, dict(direction.meta))
    d.recommend({**REC, "captions": "given"})
    line = ShiftDC(vlm, d, progress=False).settings.describe()
    assert line.endswith("; recommendation tuned with given captions)")
    explicit = ShiftDC(vlm, d, mode="paper", layers=[2], alpha=1, positions="last", progress=False)
    assert "tuned with" not in explicit.settings.describe()  # the recommendation is not used


def _requests(tmp_path):
    from tests.helpers.samples import requests

    path = tmp_path / "reqs.jsonl"
    lines = []
    for r in requests()[:2]:
        r.image.save(tmp_path / f"{r.id}.png")
        lines.append(json.dumps({"id": r.id, "prompt": r.prompt, "image": f"{r.id}.png"}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_generate_follows_the_recommendation_and_prints_it(
    tiny_dir, recommended_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SHIFTDC_CACHE", str(tmp_path / "cache"))
    reqs = _requests(tmp_path)
    m = ["--model", str(tiny_dir("llava")), "--device", "cpu", "--quiet", "--dtype", "float32"]
    base = ["generate", *m, "--input", str(reqs), "--direction", str(recommended_dir)]
    base += ["--max-new-tokens", "4", "--caption-tokens", "3"]
    assert main([*base, "--out", str(tmp_path / "rec.jsonl")]) == 0
    assert "ShiftDC: mode sequential, layers 2..3, alpha 2" in capsys.readouterr().out
    explicit = ["--mode", "sequential", "--layers", "2:3", "--alpha", "2"]
    assert main([*base, *explicit, "--out", str(tmp_path / "explicit.jsonl")]) == 0
    assert main([*base, "--mode", "paper", "--out", str(tmp_path / "paper.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "mode paper, layers 2..3, alpha 2" in out and "explicit: mode" in out

    def records(name):
        return [json.loads(x) for x in (tmp_path / name).read_text().splitlines()]

    rec, exp, paper = records("rec.jsonl"), records("explicit.jsonl"), records("paper.jsonl")
    assert [r["response"] for r in rec] == [r["response"] for r in exp]
    assert {r["mode"] for r in rec} == {"sequential"} and {r["mode"] for r in paper} == {"paper"}


def test_evaluate_shiftdc_defense_follows_the_recommendation(
    tiny_dir, recommended_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SHIFTDC_CACHE", str(tmp_path / "cache"))
    m = ["--model", str(tiny_dir("llava")), "--device", "cpu", "--quiet", "--dtype", "float32"]
    args = ["evaluate", *m, "--defense", "shiftdc", "--direction", str(recommended_dir)]
    args += ["--limit", "3", "--max-new-tokens", "3", "--caption-tokens", "3"]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    assert "ShiftDC: mode sequential, layers 2..3, alpha 2" in capsys.readouterr().out
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["defense_settings"]["mode"] == "sequential"
    assert config["defense_settings"]["recommended"]["alpha"] == 2.0


def test_evaluate_explicit_flags_win_and_other_defenses_refuse_them(
    tiny_dir, recommended_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SHIFTDC_CACHE", str(tmp_path / "cache"))
    m = ["--model", str(tiny_dir("llava")), "--device", "cpu", "--quiet", "--dtype", "float32"]
    args = ["evaluate", *m, "--direction", str(recommended_dir), "--limit", "2"]
    args += ["--max-new-tokens", "3", "--caption-tokens", "3"]
    flags = ["--mode", "paper", "--layers=-2:-1", "--alpha", "0.5"]
    assert main([*args, "--defense", "shiftdc", *flags, "--out", str(tmp_path / "run")]) == 0
    assert "ShiftDC: mode paper, layers 2..3, alpha 0.5" in capsys.readouterr().out
    settings = json.loads((tmp_path / "run" / "config.json").read_text())["defense_settings"]
    assert (settings["mode"], settings["layers"], settings["alpha"]) == ("paper", "-2:-1", 0.5)
    records = [json.loads(x) for x in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    assert {r["mode"] for r in records if "mode" in r} == {"paper"}
    assert main([*args, "--defense", "ecso", "--alpha", "2", "--out", str(tmp_path / "e")]) == 2
    assert "takes no option 'alpha'" in capsys.readouterr().err


def test_the_defense_can_ignore_the_recommendation(vlm, recommended_dir, tmp_path):
    from shiftdc.eval.defenses import get_defense

    used = get_defense("shiftdc", vlm, direction=recommended_dir)
    used.setup(tmp_path / "a", [])
    ignored = get_defense("shiftdc", vlm, direction=recommended_dir, recommended=False)
    notes = ignored.setup(tmp_path / "b", [])
    assert (used.sdc.mode, used.sdc.alpha, used.sdc.layers) == ("sequential", 2.0, [2, 3])
    assert (ignored.sdc.mode, ignored.sdc.alpha, ignored.sdc.layers) == ("paper", 1.0, [2, 3])
    assert set(ignored.sdc.settings.sources.values()) == {"default"}
    assert "recommended" in used.settings() and "recommended" not in ignored.settings()
    assert ignored.settings()["recommendation_ignored"] is True
    with pytest.raises(InputError, match="contradicts"):
        get_defense("shiftdc-sequential", vlm, direction=recommended_dir, mode="paper")
    assert any("ignored" in n for n in notes)


def test_positions_all_is_a_generate_option(vlm, direction):
    sdc = ShiftDC(vlm, direction, positions="ALL", progress=False)
    assert sdc.positions == "all" and not sdc.sharing()
    with pytest.raises(InputError, match="unknown positions"):
        ShiftDC(vlm, direction, positions="middle", progress=False)
    assert torch.equal(sdc.direction.vectors, direction.vectors)


@pytest.mark.parametrize(
    "bad,word",
    [
        ({**REC, "alpha": float("nan")}, "alpha"),
        ({**REC, "alpha": -1}, "alpha"),
        ({**REC, "layers": "2:3"}, "layers"),
        ({k: v for k, v in REC.items() if k != "mode"}, "mode"),
        ("sequential", "JSON object"),
    ],
)
def test_a_damaged_recommendation_is_refused_on_load(recommended_dir, bad, word):
    path = recommended_dir / META_FILE
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, "recommended": bad}))
    with pytest.raises(InputError, match=f"'recommended'.*{word}"):
        SafetyDirection.load(recommended_dir)
