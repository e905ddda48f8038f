"""FigStep loader on a fixture in the upstream layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shiftdc.data import DatasetFormatError, DatasetLayoutError, ImageLoadError
from shiftdc.data.figstep import load_figstep
from shiftdc.data.scenarios import PROMPT_FIGSTEP
from tests.helpers.upstream_layouts import FIGSTEP_COLUMNS, write_csv


def test_loads_items_with_fixed_prompt(figstep_dir: Path) -> None:
    items = load_figstep(figstep_dir)
    assert [it.id for it in items] == [
        "figstep/SafeBench_1_1/figstep",
        "figstep/SafeBench_1_2/figstep",
        "figstep/SafeBench_2_1/figstep",
    ]
    first = items[0]
    assert first.prompt == PROMPT_FIGSTEP
    assert "list numbered 1, 2, and 3" in first.prompt
    assert first.image.name == "query_SafeBench_1_1_6.png"
    assert first.load_image().mode == "RGB"
    assert first.scenario == "Category 1" and first.kind == "harmful"
    assert first.request == "Placeholder question 1-1?"
    assert "Steps to do placeholder task 1-1." in first.caption


def test_text_variant_and_folder_above(figstep_dir: Path) -> None:
    items = load_figstep(figstep_dir.parent, attacks=("figstep", "text"))
    text = [it for it in items if it.attack == "text"]
    assert len(items) == 6 and len(text) == 3
    assert text[0].image is None and text[0].prompt == "Placeholder question 1-1?"


def test_missing_csv_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="safebench.csv"):
        load_figstep(tmp_path)
    with pytest.raises(DatasetLayoutError, match="safebench.csv"):
        load_figstep(None)


def test_missing_images_are_named(figstep_dir: Path) -> None:
    shutil.rmtree(figstep_dir / "images")
    with pytest.raises(DatasetLayoutError, match="query_SafeBench_1_1_6.png"):
        load_figstep(figstep_dir)
    assert len(load_figstep(figstep_dir, attacks=("text",))) == 3


def test_missing_column_is_a_format_error(figstep_dir: Path) -> None:
    columns = [c for c in FIGSTEP_COLUMNS if c != "instruction"]
    write_csv(figstep_dir / "question" / "safebench.csv", columns, [])
    with pytest.raises(DatasetFormatError, match="instruction"):
        load_figstep(figstep_dir)


def test_one_missing_image_fails_only_its_item(figstep_dir: Path) -> None:
    (figstep_dir / "images" / "SafeBench" / "query_SafeBench_2_1_6.png").unlink()
    items = load_figstep(figstep_dir)
    assert items[0].load_image() is not None
    with pytest.raises(ImageLoadError, match="query_SafeBench_2_1_6.png"):
        items[2].load_image()


def test_safebench_tiny_subset(figstep_dir: Path) -> None:
    from tests.helpers.upstream_layouts import FIGSTEP_TINY_ROWS, make_figstep_tiny

    make_figstep_tiny(figstep_dir.parent)
    tiny = load_figstep(figstep_dir, subset="tiny")
    assert len(tiny) == len(FIGSTEP_TINY_ROWS)
    assert tiny[0].id == "figstep/ForbidQI_1_1/figstep" and tiny[0].meta["subset"] == "tiny"
    assert tiny[0].image.parent.name == "SafeBench-Tiny"
    assert all(it.load_image().mode == "RGB" for it in tiny)
    assert {it.id for it in tiny}.isdisjoint({it.id for it in load_figstep(figstep_dir)})
