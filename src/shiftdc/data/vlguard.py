"""VLGuard test set in its upstream layout (mainly for over-refusal).

    <data_dir>/test.json   list of {"id", "image", "safe", "harmful_category"?, ...,
        "instr-resp": [{"safe_instruction" | "unsafe_instruction" | "instruction", "response"}]}
    <data_dir>/test/<image>   (images also accepted directly under <data_dir>)

Subsets, as the VLGuard paper names them: safe_safe (safe image, safe instruction:
over-refusal), safe_unsafe (safe image, unsafe instruction), unsafe (unsafe image). On
ys-zong/VLGuard data/test.json: 558, 558 and 442 items. Scenario: the entry's
`harmful_category` (unsafe images carry it, e.g. "deception", "privacy"); safe-image
entries have none, so their unsafe instructions get `SAFE_IMAGE_UNSAFE_INSTRUCTION` and
their safe ones "benign" (never a "safe" group among harmful items).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from shiftdc.data.item import EvalItem
from shiftdc.data.layout import find_file, json_kind, read_json, require_data_dir
from shiftdc.data.load_errors import DatasetFormatError, DatasetLayoutError
from shiftdc.errors import InputError

BENCHMARK: Final = "vlguard"
SUBSETS: Final[tuple[str, ...]] = ("safe_safe", "safe_unsafe", "unsafe")
SAFE_IMAGE_UNSAFE_INSTRUCTION: Final = "unsafe instruction (safe image, uncategorised)"
_KEYS: Final[dict[str, str]] = {
    "safe_instruction": "safe_safe",
    "unsafe_instruction": "safe_unsafe",
    "instruction": "unsafe",
}


def _image_root(root: Path, first_image: str | None) -> Path:
    """test/ if the images are there, else the data dir itself; error naming test/<first>."""
    if first_image is None or (root / "test" / first_image).is_file():
        return root / "test"
    if (root / first_image).is_file():
        return root
    raise DatasetLayoutError(
        BENCHMARK, root / "test" / first_image, "Unpack the VLGuard test images into test/."
    )


def _check_entry(entry: object, i: int, path: Path) -> dict[str, Any]:
    """One test.json entry, checked for the fields and JSON types the loader reads."""
    where = f"{BENCHMARK}: {path} entry {i}"
    if not isinstance(entry, dict):
        raise DatasetFormatError(f"{where} should be an object, got {json_kind(entry)}")
    where += f" (id {entry.get('id')!r})"
    for key in ("id", "image"):
        if key not in entry:
            raise DatasetFormatError(f"{where} lacks {key!r}")
    if not isinstance(entry["image"], str) or not entry["image"].strip():
        raise DatasetFormatError(
            f"{where}: 'image' should be a file name under test/, got {json_kind(entry['image'])}"
        )
    turns = entry.get("instr-resp")
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        got = json_kind(turns) if not isinstance(turns, list) else "a list with a non-object"
        raise DatasetFormatError(
            f"{where}: 'instr-resp' should be a list of {{instruction, response}} objects, "
            f"got {got}"
        )
    return entry


def _pairs(entry: dict[str, Any], path: Path, i: int) -> list[tuple[str, str]]:
    """(subset, instruction) pairs of one test.json entry."""
    out = []
    for turn in entry["instr-resp"]:
        key = next((k for k in _KEYS if k in turn), None)
        if key is None:
            problem = f"without any of {', '.join(_KEYS)}"
        elif not isinstance(turn[key], str):
            problem = f"whose {key!r} is {json_kind(turn[key])}, not text"
        else:
            out.append((_KEYS[key], turn[key]))
            continue
        raise DatasetFormatError(
            f"{BENCHMARK}: {path} entry {i} (id {entry.get('id')!r}) has an instr-resp turn "
            f"{problem}"
        )
    return out


def _scenario(entry: dict[str, Any], subset: str) -> str:
    """The entry's harmful category; for safe images, what kind of request it is."""
    category = entry.get("harmful_category")
    if isinstance(category, str) and category.strip():
        return category.strip()
    return "benign" if subset == "safe_safe" else SAFE_IMAGE_UNSAFE_INSTRUCTION


def load_vlguard(
    data_dir: Path | str | None = None, seed: int = 0, subsets: Sequence[str] = SUBSETS
) -> list[EvalItem]:
    """Items of the chosen subsets; safe_safe ones are benign, the others harmful."""
    bad = [s for s in subsets if s not in SUBSETS]
    if bad:
        raise InputError(f"unknown VLGuard subset(s) {bad}; expected some of {SUBSETS}")
    root = require_data_dir(data_dir, BENCHMARK, "test.json")
    path = find_file(root, BENCHMARK, ["test.json"], "Pass the VLGuard folder with test.json.")
    entries = read_json(path, BENCHMARK)
    if not isinstance(entries, list):
        raise DatasetFormatError(f"{BENCHMARK}: {path} should hold a JSON list of entries")
    entries = [_check_entry(entry, i, path) for i, entry in enumerate(entries)]
    image_root = _image_root(root, entries[0]["image"] if entries else None)
    items: list[EvalItem] = []
    for i, entry in enumerate(entries):
        for subset, instruction in _pairs(entry, path, i):
            if subset not in subsets:
                continue
            items.append(
                EvalItem(
                    id=f"{BENCHMARK}/{entry['id']}/{subset}",
                    prompt=instruction,
                    image=image_root / entry["image"],
                    scenario=_scenario(entry, subset),
                    attack=subset,
                    kind="benign" if subset == "safe_safe" else "harmful",
                    benchmark=BENCHMARK,
                    request=instruction,
                    meta={
                        "safe_image": bool(entry.get("safe")),
                        "category": entry.get("harmful_category"),
                        "subcategory": entry.get("harmful_subcategory"),
                    },
                )
            )
    return items
