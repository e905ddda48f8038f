"""Fixtures: one tiny benchmark directory per upstream layout, built in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import upstream_layouts as layouts


def _folder(name: str, make, doc: str):
    """A fixture `name` that builds one upstream layout in tmp_path with `make`."""

    def build(tmp_path: Path) -> Path:
        return make(tmp_path)

    build.__doc__ = doc
    return pytest.fixture(name=name)(build)


mmsb_dir = _folder(
    "mmsb_dir",
    layouts.make_mm_safetybench,
    "MM-SafetyBench data folder (processed_questions/ + imgs/).",
)


@pytest.fixture
def figstep_dir(tmp_path: Path) -> Path:
    """FigStep data folder (question/safebench.csv + images/SafeBench/)."""
    return layouts.make_figstep(tmp_path)


@pytest.fixture
def jailbreakv_dir(tmp_path: Path) -> Path:
    """Folder above JailBreakV_28K/ (full CSV + image folders)."""
    return layouts.make_jailbreakv(tmp_path)


@pytest.fixture
def jailbreakv_mini_dir(tmp_path: Path) -> Path:
    """Folder above JailBreakV_28K/ holding only mini_JailBreakV_28K.csv and its images."""
    return layouts.make_jailbreakv(tmp_path, mini=True)


@pytest.fixture
def vlguard_dir(tmp_path: Path) -> Path:
    """VLGuard folder (test.json + test/)."""
    return layouts.make_vlguard(tmp_path)


@pytest.fixture(params=["current", "old"])
def mme_dir(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """Folder above MME_Benchmark_release_version/, once per zip variant."""
    return layouts.make_mme(tmp_path, request.param)
