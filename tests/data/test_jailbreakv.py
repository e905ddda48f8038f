"""JailBreakV-28K loader on fixtures of the full and the mini download."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shiftdc.data import DatasetFormatError, DatasetLayoutError
from shiftdc.data.jailbreakv import attack_group, is_image_based, load_jailbreakv
from tests.helpers.upstream_layouts import JBV_COLUMNS, write_csv


def test_image_attacks_in_the_papers_two_groups(jailbreakv_dir: Path) -> None:
    items = load_jailbreakv(jailbreakv_dir)
    assert [it.id for it in items] == [f"jailbreakv/{i}" for i in (1, 2, 3, 4)]
    assert [it.attack for it in items] == ["FigStep"] + ["Query-relevant"] * 3
    assert [it.meta["format"] for it in items] == ["figstep", "SD", "typo", "SD_typo"]
    fig = items[0]
    assert fig.prompt == "Placeholder jailbreak query 1"
    assert fig.request == "Placeholder red-team query 1?"
    assert fig.scenario == "Malware" and fig.kind == "harmful"
    assert fig.image == jailbreakv_dir / "JailBreakV_28K" / "figstep" / "query_ForbidQI_1_1_6.png"
    assert all(it.load_image().mode == "RGB" for it in items)
    assert fig.labels()["format"] == "figstep"  # the sub-format reaches the run records


@pytest.mark.parametrize(
    ("formats", "ids"),
    [
        (["Query-relevant"], [2, 3, 4]),
        (["query_relevant"], [2, 3, 4]),
        (["SD"], [2]),
        (["sd-typo", "FigStep"], [1, 4]),
        (["LLM-transfer"], [0, 5, 6]),
        (["template", "Persuade"], [0, 5]),
    ],
)
def test_select_by_group_or_format(jailbreakv_dir: Path, formats, ids) -> None:
    items = load_jailbreakv(jailbreakv_dir / "JailBreakV_28K", formats=formats)
    assert [it.id for it in items] == [f"jailbreakv/{i}" for i in ids]


def test_groups_of_the_real_format_values() -> None:
    assert [attack_group(f) for f in ("figstep", "SD", "typo", "SD_typo")] == [
        "FigStep",
        "Query-relevant",
        "Query-relevant",
        "Query-relevant",
    ]
    assert attack_group("Logic") == "LLM-transfer" and not is_image_based("Template")


def test_mini_download(jailbreakv_mini_dir: Path) -> None:
    items = load_jailbreakv(jailbreakv_mini_dir, subset="mini")
    assert [it.id for it in items] == ["jailbreakv/1", "jailbreakv/3"]
    assert [it.id for it in load_jailbreakv(jailbreakv_mini_dir, mini=True)] == [
        "jailbreakv/1",
        "jailbreakv/3",
    ]
    with pytest.raises(DatasetLayoutError, match="JailBreakV_28K.csv"):
        load_jailbreakv(jailbreakv_mini_dir)  # the full CSV is not there


def test_missing_csv_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="JailBreakV_28K.csv"):
        load_jailbreakv(tmp_path)
    with pytest.raises(DatasetLayoutError, match="mini_JailBreakV_28K.csv"):
        load_jailbreakv(tmp_path, subset="mini")


def test_missing_image_folder_is_named(jailbreakv_dir: Path) -> None:
    shutil.rmtree(jailbreakv_dir / "JailBreakV_28K" / "query_related")
    with pytest.raises(DatasetLayoutError, match="query_related"):
        load_jailbreakv(jailbreakv_dir)


def test_text_only_file_says_why_it_has_no_items(tmp_path: Path) -> None:
    row = dict.fromkeys(JBV_COLUMNS, "x") | {"format": "Template", "image_path": "a/b.png"}
    write_csv(tmp_path / "JailBreakV_28K.csv", JBV_COLUMNS, [row])
    with pytest.raises(DatasetFormatError, match=r"holds Template \(1\).*--formats"):
        load_jailbreakv(tmp_path)
