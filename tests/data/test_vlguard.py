"""VLGuard test-set loader on a fixture in the upstream layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shiftdc.data import DatasetFormatError, DatasetLayoutError
from shiftdc.data.vlguard import SAFE_IMAGE_UNSAFE_INSTRUCTION, load_vlguard


def test_loads_three_subsets(vlguard_dir: Path) -> None:
    items = {it.attack: it for it in load_vlguard(vlguard_dir)}
    assert set(items) == {"safe_safe", "safe_unsafe", "unsafe"}
    safe = items["safe_safe"]
    assert safe.kind == "benign" and safe.prompt == "What is shown in the picture?"
    assert safe.id == "vlguard/safe_0/safe_safe" and safe.scenario == "benign"
    assert items["safe_unsafe"].kind == "harmful"
    assert items["safe_unsafe"].scenario == SAFE_IMAGE_UNSAFE_INSTRUCTION
    unsafe = items["unsafe"]
    assert unsafe.kind == "harmful" and unsafe.scenario == "deception"
    assert unsafe.image == vlguard_dir / "test" / "bad_ads" / "def.png"
    assert all(it.load_image().mode == "RGB" for it in items.values())


def test_over_refusal_subset_only(vlguard_dir: Path) -> None:
    items = load_vlguard(vlguard_dir, subsets=("safe_safe",))
    assert [it.kind for it in items] == ["benign"]


def test_missing_json_and_images_are_named(vlguard_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="test.json"):
        load_vlguard(tmp_path / "VLGuard" / "test")
    shutil.rmtree(vlguard_dir / "test")
    with pytest.raises(DatasetLayoutError, match=r"test.safe.abc.jpg"):
        load_vlguard(vlguard_dir)


def test_turn_without_instruction_is_a_format_error(vlguard_dir: Path) -> None:
    path = vlguard_dir / "test.json"
    entries = json.loads(path.read_text())
    entries[1]["instr-resp"] = [{"response": "only a response"}]
    path.write_text(json.dumps(entries))
    with pytest.raises(DatasetFormatError, match="unsafe_0"):
        load_vlguard(vlguard_dir)


def test_no_harmful_item_is_in_a_safe_scenario(vlguard_dir: Path) -> None:
    harmful = [it for it in load_vlguard(vlguard_dir) if it.kind == "harmful"]
    assert {it.scenario for it in harmful} == {"deception", SAFE_IMAGE_UNSAFE_INSTRUCTION}
    unsafe = next(it for it in harmful if it.attack == "unsafe")
    assert unsafe.meta["subcategory"] == "disinformation"
