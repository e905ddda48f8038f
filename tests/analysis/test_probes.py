"""Per-layer probes on planted geometry."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shiftdc.analysis import (
    TEXT_TEXT,
    TEXT_VISION,
    VISION_VISION,
    calibrate_arrays,
    probe_layers,
    safety_direction,
)


def test_separable_classes_probe_near_one(planted):
    res = probe_layers(planted().sets)
    for setting in (TEXT_TEXT, VISION_VISION, TEXT_VISION):
        assert res.accuracy[setting].min() > 0.95, setting
    assert res.unsafe_vl_classified_safe.max() < 0.05
    assert res.confusion[TEXT_VISION].shape == (6, 2, 2)
    assert res.confusion[TEXT_VISION][0].sum() == 80


def test_text_text_matches_sklearn_cross_val_reference(planted):
    sets = planted(sep=1.5, hidden=16).sets
    res = probe_layers(sets, n_folds=4, seed=11)
    x = np.concatenate([sets["tt_safe"], sets["tt_unsafe"]])
    y = np.repeat([0, 1], 40)
    for layer in range(6):
        ref = cross_val_score(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
            x[:, layer],
            y,
            cv=StratifiedKFold(4, shuffle=True, random_state=11),
        ).mean()
        assert res.accuracy[TEXT_TEXT][layer] == pytest.approx(ref)


def test_random_labels_probe_near_half(planted):
    sets = planted(n=50, hidden=16, sep=0.0).sets
    rng = np.random.default_rng(7)
    sets = dict(sets, vl_safe=rng.normal(size=(50, 6, 16)), vl_unsafe=rng.normal(size=(50, 6, 16)))
    res = probe_layers(sets)
    for setting in (TEXT_TEXT, VISION_VISION, TEXT_VISION):
        assert abs(res.accuracy[setting].mean() - 0.5) < 0.12, setting
        assert res.accuracy[setting].max() < 0.75, setting


def test_paired_text_vision_tests_only_held_out_requests(planted):
    # vl == tt and no class signal: a probe tested on its own training requests would score
    # well above chance; the paired protocol must give exactly the text->text predictions.
    sets = planted(n=50, hidden=16, sep=0.0).sets
    res = probe_layers(sets, paired=True)
    np.testing.assert_array_equal(res.accuracy[TEXT_VISION], res.accuracy[TEXT_TEXT])
    assert abs(res.accuracy[TEXT_VISION].mean() - 0.5) < 0.12
    leaky = probe_layers(sets, paired=False)
    assert leaky.accuracy[TEXT_VISION].mean() > res.accuracy[TEXT_VISION].mean()
    with pytest.raises(ValueError, match="equal counts"):
        probe_layers(dict(sets, vl_safe=sets["vl_safe"][:10]), paired=True)


def test_distortion_breaks_transfer_and_calibration_restores_it(planted):
    p = planted(distortion=1.0, visual=3.0)
    before = probe_layers(p.sets)
    assert before.accuracy[TEXT_TEXT].min() > 0.95
    assert np.abs(before.accuracy[TEXT_VISION] - 0.5).max() < 0.1
    assert before.unsafe_vl_classified_safe.min() > 0.9
    s = safety_direction(p.sets["tt_safe"], p.sets["tt_unsafe"])
    fixed = dict(p.sets)
    for kind in ("safe", "unsafe"):
        fixed[f"vl_{kind}"] = calibrate_arrays(p.sets[f"vl_{kind}"], p.sets[f"tt_{kind}"], s)
    after = probe_layers(fixed, paired=True)
    assert after.accuracy[TEXT_VISION].min() > 0.9
    assert after.unsafe_vl_classified_safe.max() < 0.1


def test_best_layer_is_the_separable_one(planted):
    res = probe_layers(planted(separable_layers=[3]).sets)
    assert res.best_layer() == 3
    assert res.at(3)["accuracy"][TEXT_TEXT] > 0.95


def test_subset_of_layers_and_negative_index(planted):
    res = probe_layers(planted().sets, layers=[-1, 2, 5])
    assert res.layers == [2, 5]  # one rule for layers everywhere: sorted, unique
    assert res.index(-1) == 1
    with pytest.raises(ValueError, match="not probed"):
        res.index(0)


def test_seeded_probes_are_reproducible(planted):
    sets = planted(sep=1.0).sets
    a, b = probe_layers(sets, seed=3), probe_layers(sets, seed=3)
    for setting in a.accuracy:
        np.testing.assert_array_equal(a.accuracy[setting], b.accuracy[setting])
