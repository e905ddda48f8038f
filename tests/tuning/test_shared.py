"""The shared measurement of `tune` against running ShiftDC per configuration (naive)."""

import pytest
import torch

from shiftdc.method.pipeline import ShiftDC
from shiftdc.tuning.grid import GridPoint
from shiftdc.tuning.shared import calibration_for, measure_once
from tests.helpers.samples import requests

N_NEW = 6
POINTS = [
    GridPoint("paper", (2, 3), 1.0),
    GridPoint("paper", (1, 2, 3), 0.5),
    GridPoint("paper", (0, 1, 2, 3), 2.0),
    GridPoint("sequential", (1, 2, 3), 1.0),
    GridPoint("sequential", (2, 3), 2.0),
]


@pytest.fixture(scope="module")
def shared(vlm):
    reqs = requests()
    return reqs, measure_once(vlm, reqs, [r.caption for r in reqs])


@pytest.mark.parametrize("point", POINTS, ids=lambda p: p.label)
def test_shared_path_gives_the_naive_corrections_and_tokens(
    vlm, direction, shared, point, tmp_path
):
    reqs, measured = shared
    caps = [r.caption for r in reqs]
    naive = ShiftDC(vlm, direction, progress=False, **point.settings())
    naive.captioner.cache_dir = tmp_path
    want_cal, _ = naive.calibrate(reqs, caps)
    want = [r.response for r in naive.generate(reqs, max_new_tokens=N_NEW)]

    cal = calibration_for(vlm, direction, point, measured)
    assert cal.layers == want_cal.layers
    torch.testing.assert_close(cal.corrections, want_cal.corrections, atol=1e-4, rtol=1e-4)
    assert cal.corrections.abs().sum() > 0  # the test would see a lost correction
    got = [r.response for r in naive.generate_calibrated(reqs, caps, cal, N_NEW)]
    assert got == want
