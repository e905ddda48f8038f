"""MM-SafetyBench loader on a fixture in the upstream layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shiftdc.data import DatasetFormatError, DatasetLayoutError, ImageLoadError
from shiftdc.data.mm_safetybench import load_mm_safetybench
from shiftdc.data.scenarios import MM_SAFETYBENCH_SCENARIOS, PROMPT_SD, PROMPT_SD_TYPO
from tests.helpers.upstream_layouts import MMSB_SCENARIOS


def load(root: Path, **kw):
    """Load only the fixture's scenarios unless told otherwise."""
    kw.setdefault("scenarios", MMSB_SCENARIOS)
    return load_mm_safetybench(root, **kw)


def test_loads_every_attack_of_every_question(mmsb_dir: Path) -> None:
    items = load(mmsb_dir)
    assert len(items) == 2 * 2 * 4
    assert len({it.id for it in items}) == len(items)
    by_attack = {it.attack for it in items}
    assert by_attack == {"SD", "TYPO", "SD_TYPO", "text"}
    assert all(it.kind == "harmful" and it.benchmark == "mm-safetybench" for it in items)


def test_prompts_images_and_captions_per_attack(mmsb_dir: Path) -> None:
    items = {it.id: it for it in load(mmsb_dir)}
    sd = items["mm-safetybench/01-Illegal_Activitiy/1/SD"]
    assert sd.prompt == PROMPT_SD and sd.caption is None
    assert sd.image == mmsb_dir / "imgs" / "01-Illegal_Activitiy" / "SD" / "1.jpg"
    typo = items["mm-safetybench/02-HateSpeech/0/TYPO"]
    assert typo.prompt == PROMPT_SD_TYPO and "placeholder activity 0" in typo.caption
    sd_typo = items["mm-safetybench/02-HateSpeech/0/SD_TYPO"]
    assert sd_typo.prompt == PROMPT_SD_TYPO and sd_typo.load_image().mode == "RGB"
    text = items["mm-safetybench/02-HateSpeech/0/text"]
    assert text.image is None and text.prompt == "Placeholder question 02-HateSpeech 0?"
    assert text.request == sd.request.replace("01-Illegal_Activitiy 1", "02-HateSpeech 0")
    assert text.meta["key_phrase"] == "placeholder activity 0"


def test_attack_subset_and_parent_folder(mmsb_dir: Path) -> None:
    items = load(mmsb_dir.parent, attacks=("SD_TYPO",))  # folder above data/ also works
    assert len(items) == 4 and {it.attack for it in items} == {"SD_TYPO"}


def test_unknown_attack_is_rejected(mmsb_dir: Path) -> None:
    with pytest.raises(ValueError, match="OCR"):
        load(mmsb_dir, attacks=("OCR",))


def test_missing_data_dir_names_expected_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="nope"):
        load(tmp_path / "nope")
    with pytest.raises(DatasetLayoutError, match="processed_questions"):
        load(tmp_path)
    with pytest.raises(DatasetLayoutError, match="processed_questions"):
        load_mm_safetybench(None)


def test_partial_download_loads_what_is_there(mmsb_dir: Path) -> None:
    assert len(MM_SAFETYBENCH_SCENARIOS) == 13
    with pytest.warns(UserWarning, match="2 of 13 scenarios.*03-Malware_Generation"):
        items = load_mm_safetybench(mmsb_dir, scenarios=None)  # default: those present
    assert {it.scenario for it in items} == set(MMSB_SCENARIOS)
    assert len(items) == len(load(mmsb_dir))


def test_scenarios_by_name_or_number(mmsb_dir: Path) -> None:
    by_number = load_mm_safetybench(mmsb_dir, scenarios=["2"])
    assert {it.scenario for it in by_number} == {"02-HateSpeech"}
    assert [it.id for it in load_mm_safetybench(mmsb_dir, scenarios=["02-hatespeech"])] == [
        it.id for it in by_number
    ]
    with pytest.raises(DatasetLayoutError, match="03-Malware_Generation.json"):
        load_mm_safetybench(mmsb_dir, scenarios=["03"])
    with pytest.raises(ValueError, match="unknown MM-SafetyBench scenario '14'"):
        load_mm_safetybench(mmsb_dir, scenarios=["14"])


def test_missing_image_folder_is_named(mmsb_dir: Path) -> None:
    shutil.rmtree(mmsb_dir / "imgs" / "02-HateSpeech" / "TYPO")
    with pytest.raises(DatasetLayoutError, match=r"02-HateSpeech.TYPO"):
        load(mmsb_dir)
    assert len(load(mmsb_dir, attacks=("SD", "text"))) == 8


def test_missing_field_is_a_format_error(mmsb_dir: Path) -> None:
    path = mmsb_dir / "processed_questions" / "01-Illegal_Activitiy.json"
    table = json.loads(path.read_text())
    del table["1"]["Rephrased Question(SD)"]
    path.write_text(json.dumps(table))
    with pytest.raises(DatasetFormatError, match=r"'1'.*Rephrased Question\(SD\)"):
        load(mmsb_dir)


def test_corrupt_image_fails_only_its_item(mmsb_dir: Path) -> None:
    bad = mmsb_dir / "imgs" / "01-Illegal_Activitiy" / "TYPO" / "0.jpg"
    bad.write_bytes(b"garbage")
    outcomes = {}
    for item in load(mmsb_dir, attacks=("TYPO",)):
        try:
            item.load_image()
            outcomes[item.id] = "ok"
        except ImageLoadError as exc:
            outcomes[item.id] = str(exc)
    assert "0.jpg" in outcomes["mm-safetybench/01-Illegal_Activitiy/0/TYPO"]
    assert sum(v == "ok" for v in outcomes.values()) == 3
