"""VLGuard test set in its upstream layout (mainly for over-refusal).

    <data_dir>/test.json   list of {"id", "image", "safe", "harmful_category"?, ...,
        "instr-resp": [{"safe_instruction" | "unsafe_instruction" | "instruction", "response"}]}
    <data_dir>/test/<image>   (images also accepted directly under <data_dir>)

Subsets, as the VLGuard paper names them: safe_safe (safe image, safe instruction:
over-refusal), safe_unsafe (safe image, unsafe instruction), unsafe (unsafe image).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from shiftdc.data.errors import DatasetFormatError, DatasetLayoutError
from shiftdc.data.item import EvalItem
from shiftdc.data.layout import find_file, read_json, require_data_dir

BENCHMARK: Final = "vlguard"
SUBSETS: Final[tuple[str, ...]] = ("safe_safe", "safe_unsafe", "unsafe")
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


def _pairs(entry: dict[str, Any], path: Path) -> list[tuple[str, str]]:
    """(subset, instruction) pairs of one test.json entry."""
    out = []
    for turn in entry.get("instr-resp", []):
        key = next((k for k in _KEYS if k in turn), None)
        if key is None:
            raise DatasetFormatError(
                f"{BENCHMARK}: {path} entry {entry.get('id')!r} has an instr-resp turn without "
                f"any of {', '.join(_KEYS)}"
            )
        out.append((_KEYS[key], str(turn[key])))
    return out


def load_vlguard(
    data_dir: Path | str | None = None, seed: int = 0, subsets: Sequence[str] = SUBSETS
) -> list[EvalItem]:
    """Items of the chosen subsets; safe_safe ones are benign, the others harmful."""
    bad = [s for s in subsets if s not in SUBSETS]
    if bad:
        raise ValueError(f"unknown VLGuard subset(s) {bad}; expected some of {SUBSETS}")
    root = require_data_dir(data_dir, BENCHMARK, "test.json")
    path = find_file(root, BENCHMARK, ["test.json"], "Pass the VLGuard folder with test.json.")
    entries = read_json(path, BENCHMARK)
    if not isinstance(entries, list):
        raise DatasetFormatError(f"{BENCHMARK}: {path} should hold a JSON list of entries")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "image" not in entry or "id" not in entry:
            raise DatasetFormatError(f"{BENCHMARK}: {path} entry {i} lacks 'id' or 'image'")
    image_root = _image_root(root, entries[0]["image"] if entries else None)
    items: list[EvalItem] = []
    for entry in entries:
        for subset, instruction in _pairs(entry, path):
            if subset not in subsets:
                continue
            items.append(
                EvalItem(
                    id=f"{BENCHMARK}/{entry['id']}/{subset}",
                    prompt=instruction,
                    image=image_root / entry["image"],
                    scenario=str(entry.get("harmful_category") or "safe"),
                    attack=subset,
                    kind="benign" if subset == "safe_safe" else "harmful",
                    benchmark=BENCHMARK,
                    request=instruction,
                    meta={
                        "safe_image": bool(entry.get("safe")),
                        "subcategory": entry.get("harmful_subcategory"),
                    },
                )
            )
    return items
