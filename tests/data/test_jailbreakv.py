"""JailBreakV-28K loader on a fixture in the upstream layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shiftdc.data import DatasetLayoutError
from shiftdc.data.jailbreakv import is_image_based, load_jailbreakv


def test_keeps_only_image_based_formats(jailbreakv_dir: Path) -> None:
    items = load_jailbreakv(jailbreakv_dir)
    assert [it.id for it in items] == ["jailbreakv/1", "jailbreakv/2"]
    assert [it.attack for it in items] == ["FigStep", "Query-relevant"]
    fig = items[0]
    assert fig.prompt == "Placeholder jailbreak query 1"
    assert fig.request == "Placeholder red-team query 1?"
    assert fig.scenario == "Malware" and fig.kind == "harmful"
    assert fig.image == jailbreakv_dir / "JailBreakV_28K" / "figstep" / "query_0_6.png"
    assert all(it.load_image().mode == "RGB" for it in items)


def test_csv_folder_itself_and_explicit_formats(jailbreakv_dir: Path) -> None:
    items = load_jailbreakv(jailbreakv_dir / "JailBreakV_28K", formats=("template", "persuade"))
    assert [it.attack for it in items] == ["Template", "Persuade"]


def test_format_names_are_matched_loosely() -> None:
    assert is_image_based("figstep", "x.png")
    assert is_image_based("query_relevant", "x.png")
    assert is_image_based("SD+Typo", "query_related/SD_typo/1.png")
    assert not is_image_based("Template", "llm_transfer_attack/a.png")


def test_missing_csv_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="JailBreakV_28K.csv"):
        load_jailbreakv(tmp_path)
    with pytest.raises(DatasetLayoutError, match="mini_JailBreakV_28K.csv"):
        load_jailbreakv(tmp_path, mini=True)


def test_missing_image_folder_is_named(jailbreakv_dir: Path) -> None:
    shutil.rmtree(jailbreakv_dir / "JailBreakV_28K" / "query_related")
    with pytest.raises(DatasetLayoutError, match="query_related"):
        load_jailbreakv(jailbreakv_dir)
