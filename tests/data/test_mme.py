"""MME loader on a fixture in both of its upstream subtask layouts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shiftdc.data import DatasetFormatError, DatasetLayoutError
from shiftdc.data.mme import load_mme


def _release(mme_dir: Path) -> Path:
    return mme_dir / "MME_Benchmark_release_version"


def _tasks(mme_dir: Path) -> Path:
    """The folder holding the subtask folders, in either zip variant."""
    nested = _release(mme_dir) / "MME_Benchmark"
    return nested if nested.is_dir() else _release(mme_dir)


def test_loads_both_layouts(mme_dir: Path) -> None:
    items = load_mme(mme_dir)
    assert len(items) == 6
    assert {it.scenario for it in items} == {"artwork", "existence", "count"}
    assert [it.answer for it in items] == ["yes", "no"] * 3
    art = next(it for it in items if it.scenario == "artwork")
    assert art.kind == "utility" and art.meta["category"] == "perception"
    assert art.image.name == "10002.jpg" and art.image.parent.name == "images"
    count = next(it for it in items if it.scenario == "count")
    assert count.image.suffix == ".png" and count.prompt.endswith("Please answer yes or no.")
    assert all(it.load_image().mode == "RGB" for it in items)
    assert items[0].meta["image_id"] == items[1].meta["image_id"]


def test_every_level_of_the_download_is_accepted(mme_dir: Path) -> None:
    ids = [it.id for it in load_mme(mme_dir)]
    assert [it.id for it in load_mme(_release(mme_dir))] == ids
    assert [it.id for it in load_mme(_tasks(mme_dir))] == ids


def test_subtask_selection(mme_dir: Path) -> None:
    items = load_mme(_release(mme_dir), subtasks=("existence",))
    assert len(items) == 2
    with pytest.raises(DatasetLayoutError, match="OCR"):
        load_mme(mme_dir, subtasks=("OCR",))


def test_no_subtask_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="No MME subtask folder"):
        load_mme(tmp_path)


def test_old_question_folder_name_is_not_the_real_one(mme_dir: Path) -> None:
    qa = _tasks(mme_dir) / "artwork" / "questions_answers_YN"
    qa.rename(qa.with_name("questions_answer_YES_NO"))
    with pytest.raises(DatasetLayoutError, match="questions_answers_YN"):
        load_mme(mme_dir)


def test_half_of_the_images_layout_is_named(mme_dir: Path) -> None:
    shutil.rmtree(_tasks(mme_dir) / "artwork" / "images")
    with pytest.raises(DatasetLayoutError, match=r"artwork.images"):
        load_mme(mme_dir)


def test_bad_answer_line_is_a_format_error(mme_dir: Path) -> None:
    txt = _tasks(mme_dir) / "existence" / "000000006040.txt"
    txt.write_text("Is there a cat?\tmaybe\n")
    with pytest.raises(DatasetFormatError, match="line 1"):
        load_mme(mme_dir)
