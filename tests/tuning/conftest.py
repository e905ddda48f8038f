"""Fixtures of the tuning tests: the tiny LLaVA and a direction fitted on it."""

import pytest

from shiftdc.direction import SafetyDirection
from tests.pipeline.helpers import fit_samples


@pytest.fixture(scope="module")
def vlm(tiny_vlm):
    return tiny_vlm("llava")


@pytest.fixture(scope="module")
def direction(vlm):
    safe, unsafe = fit_samples()
    return SafetyDirection.fit(vlm, safe, unsafe, progress=False)
