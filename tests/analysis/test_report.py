"""End-to-end analyze_arrays, and bad input."""

import json

import numpy as np
import pytest

from shiftdc.analysis import (
    TEXT_TEXT,
    TEXT_VISION,
    analyze_arrays,
    calibrate_arrays,
    probe_layers,
    safety_direction,
    shift_stats,
)

FIGURES = ("probe_accuracy", "probe_confusion", "shift", "map_pca", "map_tsne")


def _after(sets):
    s = safety_direction(sets["tt_safe"], sets["tt_unsafe"])
    out = dict(sets)
    for kind in ("safe", "unsafe"):
        out[f"vl_{kind}"] = calibrate_arrays(sets[f"vl_{kind}"], sets[f"tt_{kind}"], s)
    return out


def test_analyze_arrays_writes_files_and_consistent_numbers(planted, tmp_path):
    p = planted(n=20, hidden=16, distortion=1.0, visual=3.0)
    outcomes = np.arange(20) % 4 != 0
    res = analyze_arrays(
        p.sets, tmp_path, after=_after(p.sets), outcomes=outcomes, paired=True, progress=False
    )
    for name in FIGURES:
        assert (tmp_path / f"{name}.png").stat().st_size > 1000, name
        assert (tmp_path / f"{name}.json").is_file(), name
    on_disk = json.loads((tmp_path / "analysis.json").read_text())
    assert on_disk == json.loads(json.dumps(res))

    probes = probe_layers(p.sets, paired=True)
    layer = res["meta"]["layer"]
    assert layer == probes.best_layer()
    np.testing.assert_allclose(
        on_disk["probes"]["before"]["accuracy"][TEXT_VISION], probes.accuracy[TEXT_VISION]
    )
    fig = json.loads((tmp_path / "probe_accuracy.json").read_text())
    np.testing.assert_allclose(fig["before"]["accuracy"][TEXT_TEXT], probes.accuracy[TEXT_TEXT])
    s = safety_direction(p.sets["tt_safe"], p.sets["tt_unsafe"])
    won = shift_stats(p.sets["tt_unsafe"][outcomes], p.sets["vl_unsafe"][outcomes], s)
    np.testing.assert_allclose(on_disk["shift"]["before"]["unsafe succeeded"]["cos"], won.cos)

    before, after = on_disk["findings"]["before"], on_disk["findings"]["after"]
    i = probes.index(layer)
    assert before["text_vision_accuracy"] == pytest.approx(probes.accuracy[TEXT_VISION][i])
    assert before["unsafe_vl_classified_safe"] > 0.9
    assert after["unsafe_vl_classified_safe"] < 0.1
    assert after["shift"]["unsafe"]["safety_norm_at_layer"] < 1e-6
    assert before["shift"]["unsafe succeeded"]["n"] == 15

    md = (tmp_path / "analysis.md").read_text()
    assert f"text->vision {before['text_vision_accuracy']:.2f}" in md
    assert f"layer {layer}: {before['unsafe_vl_classified_safe']:.2f}" in md
    assert "## After ShiftDC" in md and "| number | before | after |" in md


def test_analyze_arrays_given_layer_without_tsne(planted, tmp_path):
    p = planted(n=10, hidden=16)
    res = analyze_arrays(p.sets, tmp_path, layer=-2, tsne=False, n_folds=3, progress=False)
    assert res["meta"]["layer"] == 4 and res["meta"]["layer_rule"] == "given"
    assert not (tmp_path / "map_tsne.png").exists()
    assert res["findings"]["after"] is None
    assert "## After ShiftDC" not in (tmp_path / "analysis.md").read_text()


def test_too_few_samples_says_how_many(planted, tmp_path):
    sets = dict(planted(n=10, hidden=8).sets)
    sets["vl_unsafe"] = sets["vl_unsafe"][:3]
    with pytest.raises(ValueError, match=r"at least 5 samples.*vl_unsafe=3"):
        probe_layers(sets)
    with pytest.raises(ValueError, match="at least 5"):
        analyze_arrays(sets, tmp_path, progress=False)
    assert probe_layers(sets, n_folds=3).counts["vl_unsafe"] == 3
    with pytest.raises(ValueError, match="at least 2"):
        probe_layers(sets, n_folds=1)


def test_layer_out_of_range(planted, tmp_path):
    sets = planted(n=6, hidden=8).sets
    with pytest.raises(ValueError, match=r"layer 6 is out of range.*0\.\.5"):
        analyze_arrays(sets, tmp_path, layer=6, progress=False)
    with pytest.raises(ValueError, match="out of range"):
        probe_layers(sets, layers=[-7])


def test_bad_sets(planted, tmp_path):
    sets = planted(n=6, hidden=8).sets
    with pytest.raises(ValueError, match="missing"):
        analyze_arrays({"tt_safe": sets["tt_safe"]}, tmp_path)
    bad = dict(sets, vl_safe=sets["vl_safe"][:, :, :4])
    with pytest.raises(ValueError, match="share"):
        probe_layers(bad)
    nan = dict(sets, tt_safe=np.where(np.arange(6)[:, None, None] == 0, np.nan, sets["tt_safe"]))
    with pytest.raises(ValueError, match="NaN"):
        probe_layers(nan)
    with pytest.raises(ValueError, match=r"\[6, 8\]"):
        analyze_arrays(sets, tmp_path, s=np.zeros((5, 8)))
