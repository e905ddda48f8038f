"""Fixtures shared by the pipeline tests: the tiny LLaVA and a direction fitted on it."""

import pytest

from shiftdc.method.direction import SafetyDirection
from tests.pipeline.helpers import fit_samples


@pytest.fixture(scope="module")
def vlm(tiny_vlm):
    return tiny_vlm("llava")


@pytest.fixture(scope="module")
def direction(vlm):
    safe, unsafe = fit_samples()
    return SafetyDirection.fit(vlm, safe, unsafe, progress=False)
