"""Shift geometry: planted shifts of known size and direction are measured as planted."""

import numpy as np
import pytest

from shiftdc.analysis import (
    calibrate_arrays,
    component_along,
    cosine,
    project_on,
    safety_direction,
    shift_by_outcome,
    shift_stats,
)

from .synthetic import orthonormal


def _base(n=30, layers=4, hidden=24, seed=0):
    rng = np.random.default_rng(seed)
    basis = np.stack([orthonormal(rng, hidden, 2) for _ in range(layers)])  # [L, 2, H]
    s = basis[:, 0] * rng.uniform(0.5, 3.0, size=(layers, 1))  # non-unit s per layer
    return rng.normal(size=(n, layers, hidden)), s, basis[:, 1]


def test_shift_along_s_is_measured_as_its_size():
    tt, s, _ = _base()
    size = np.array([0.5, 1.0, 2.0, 4.0])
    vl = tt + size[None, :, None] * s / np.linalg.norm(s, axis=-1, keepdims=True)
    st = shift_stats(tt, vl, s, paired=True)
    np.testing.assert_allclose(st.safety_norm, size, atol=1e-9)
    np.testing.assert_allclose(st.norm, size, atol=1e-9)
    np.testing.assert_allclose(st.component, size, atol=1e-9)
    np.testing.assert_allclose(st.cos, 1.0, atol=1e-9)
    np.testing.assert_allclose(st.per_input_cos, 1.0, atol=1e-9)


def test_orthogonal_shift_has_zero_cosine_and_zero_safety_norm():
    tt, s, v = _base()
    st = shift_stats(tt, tt + 3.0 * v, s, paired=True)
    np.testing.assert_allclose(st.cos, 0.0, atol=1e-9)
    np.testing.assert_allclose(st.safety_norm, 0.0, atol=1e-9)
    np.testing.assert_allclose(st.norm, 3.0, atol=1e-9)


def test_mixed_shift_cosine_and_sign():
    tt, s, v = _base()
    s_hat = s / np.linalg.norm(s, axis=-1, keepdims=True)
    st = shift_stats(tt, tt - 3.0 * s_hat + 4.0 * v, s)
    np.testing.assert_allclose(st.cos, -0.6, atol=1e-9)
    np.testing.assert_allclose(st.component, -3.0, atol=1e-9)
    np.testing.assert_allclose(st.safety_norm, 3.0, atol=1e-9)
    np.testing.assert_allclose(st.norm, 5.0, atol=1e-9)


def test_split_by_outcome(planted):
    tt, s, v = _base(n=20)
    s_hat = s / np.linalg.norm(s, axis=-1, keepdims=True)
    won = np.arange(20) < 12
    vl = tt + np.where(won[:, None, None], 2.0 * s_hat, 2.0 * v)
    groups = shift_by_outcome(tt, vl, s, won, paired=True)
    assert groups["succeeded"].n == 12 and groups["failed"].n == 8
    np.testing.assert_allclose(groups["succeeded"].cos, 1.0, atol=1e-9)
    np.testing.assert_allclose(groups["failed"].cos, 0.0, atol=1e-9)
    assert 0.2 < groups["all"].cos.mean() < 0.99
    assert shift_by_outcome(tt, vl, s, np.ones(20, bool))["failed"] is None
    with pytest.raises(ValueError, match="one entry per unsafe"):
        shift_by_outcome(tt, vl, s, won[:5])


def test_unpaired_needs_no_equal_counts_but_paired_does():
    tt, s, v = _base()
    st = shift_stats(tt, tt[:10] + v, s)
    assert st.per_input_cos is None and st.n == 10
    with pytest.raises(ValueError, match="paired"):
        shift_stats(tt, tt[:10], s, paired=True)


def test_projection_matches_reference_formula():
    rng = np.random.default_rng(1)
    m, s = rng.normal(size=(5, 3, 8)), rng.normal(size=(3, 8))
    ref = (m * s).sum(-1, keepdims=True) / (s * s).sum(-1, keepdims=True) * s
    np.testing.assert_allclose(project_on(m, s), ref, atol=1e-12)
    ref_cos = (m * s).sum(-1) / np.linalg.norm(m, axis=-1) / np.linalg.norm(s, axis=-1)
    np.testing.assert_allclose(cosine(m, s), ref_cos, atol=1e-12)
    assert np.all(component_along(m, np.zeros_like(s)) == 0)


def test_calibration_removes_exactly_the_safety_component(planted):
    p = planted(distortion=0.8, visual=2.0)
    s = safety_direction(p.sets["tt_safe"], p.sets["tt_unsafe"])
    tt, vl = p.sets["tt_unsafe"], p.sets["vl_unsafe"]
    cal = calibrate_arrays(vl, tt, s)
    np.testing.assert_allclose(component_along(cal - tt, s), 0.0, atol=1e-9)
    # the part orthogonal to s (the visual information) is kept
    rest = (vl - tt) - project_on(vl - tt, s)
    np.testing.assert_allclose(cal - tt, rest, atol=1e-9)
    only_2 = calibrate_arrays(vl, tt, s, layers=[2], alpha=0.5)
    np.testing.assert_array_equal(only_2[:, [0, 1, 3]], vl[:, [0, 1, 3]])
    set_level = calibrate_arrays(vl, tt, s, paired=False)
    m_after = set_level.mean(0) - tt.mean(0)
    np.testing.assert_allclose(component_along(m_after, s), 0.0, atol=1e-9)


def test_shift_geometry_through_core_matches_a_numpy_reference():
    """analysis.shift calls shiftdc.core; compare with the plain numpy formulas."""
    from shiftdc.analysis.shift import (
        calibrate_arrays,
        component_along,
        project_on,
        safety_direction,
    )

    rng = np.random.default_rng(0)
    tt_safe, tt_unsafe = rng.normal(size=(5, 3, 8)), rng.normal(size=(4, 3, 8))
    vl, tt = rng.normal(size=(4, 3, 8)), rng.normal(size=(4, 3, 8))
    s = tt_safe.mean(0) - tt_unsafe.mean(0)
    s[1] = 0.0  # a zero direction row stays zero
    np.testing.assert_allclose(safety_direction(tt_safe, tt_unsafe)[0], s[0], rtol=1e-12)
    m = vl - tt
    unit = np.divide(s, np.linalg.norm(s, axis=-1, keepdims=True), out=np.zeros_like(s),
                     where=np.linalg.norm(s, axis=-1, keepdims=True) > 0)  # fmt: skip
    comp = (m * unit).sum(-1)
    np.testing.assert_allclose(component_along(m, s), comp, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(project_on(m, s), comp[..., None] * unit, rtol=1e-12, atol=1e-15)
    expected = vl.copy()
    expected[:, [0, 2]] -= 0.5 * comp[:, [0, 2], None] * unit[[0, 2]]
    got = calibrate_arrays(vl, tt, s, alpha=0.5, layers=[0, 2])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
