"""2-D maps and the text-only boundary."""

import numpy as np
import pytest

from shiftdc.analysis import calibrate_arrays, pca_map, safety_direction, tsne_map


def test_pca_map_shows_distortion_and_its_removal(planted):
    p = planted(distortion=1.0, visual=3.0)
    before = pca_map(p.sets, 2)
    assert before.text_accuracy() > 0.95
    frac = before.fraction_safe_side()
    assert frac["vl_unsafe"] > 0.9 and frac["tt_unsafe"] < 0.05
    s = safety_direction(p.sets["tt_safe"], p.sets["tt_unsafe"])
    fixed = dict(p.sets, vl_unsafe=calibrate_arrays(p.sets["vl_unsafe"], p.sets["tt_unsafe"], s))
    after = pca_map(fixed, 2, basis=before.basis)
    np.testing.assert_allclose(after.points["tt_safe"], before.points["tt_safe"])
    assert after.fraction_safe_side()["vl_unsafe"] < 0.1


def test_tsne_map_is_seeded_and_separates_text(planted):
    sets = planted(n=15, hidden=16, visual=2.0).sets
    a = tsne_map(sets, 1, seed=0, max_iter=500)
    b = tsne_map(sets, 1, seed=0, max_iter=500)
    np.testing.assert_allclose(a.points["vl_safe"], b.points["vl_safe"])
    assert a.text_accuracy() > 0.9
    assert {k: v.shape for k, v in a.points.items()} == {
        k: (15, 2) for k in ("tt_safe", "tt_unsafe", "vl_safe", "vl_unsafe")
    }
    d = a.to_dict()
    assert d["method"] == "tsne" and len(d["points"]["tt_safe"]) == 15


def test_tsne_perplexity_is_clipped_for_few_points(planted):
    m = tsne_map(planted(n=2, hidden=8).sets, 0, max_iter=250)
    assert m.points["vl_unsafe"].shape == (2, 2)


def test_map_layer_out_of_range(planted):
    with pytest.raises(ValueError, match=r"out of range.*0\.\.5"):
        pca_map(planted().sets, 6)
