"""Fixtures: one tiny benchmark directory per upstream layout, built in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data import upstream_layouts as layouts


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
figstep_dir = _folder(
    "figstep_dir",
    layouts.make_figstep,
    "FigStep data folder (question/safebench.csv + images/SafeBench/).",
)
jailbreakv_dir = _folder(
    "jailbreakv_dir", layouts.make_jailbreakv, "Folder above JailBreakV_28K/ (CSV + image folders)."
)
vlguard_dir = _folder("vlguard_dir", layouts.make_vlguard, "VLGuard folder (test.json + test/).")
mme_dir = _folder("mme_dir", layouts.make_mme, "Folder above MME_Benchmark_release_version/.")
