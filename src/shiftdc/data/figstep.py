"""FigStep (SafeBench) in its upstream layout.

    <data_dir>/safebench.csv  (or question/safebench.csv, data/question/safebench.csv)
        columns: dataset, category_id, task_id, category_name, question, instruction
    <data_dir>/images/SafeBench/query_<dataset>_<category_id>_<task_id>_6.png
        (also accepted directly under images/ or next to the CSV)
    subset="tiny": SafeBench-Tiny.csv (50 requests, dataset "ForbidQI", what FigStep's
        ablations use) with images in images/SafeBench-Tiny/
(layout of ThuCCSLab/FigStep's data/ folder). Every image item uses FigStep's one fixed
prompt; `instruction` is the typed title line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from shiftdc.data.item import EvalItem
from shiftdc.data.layout import find_file, read_csv, require_data_dir
from shiftdc.data.load_errors import DatasetFormatError, DatasetLayoutError
from shiftdc.data.scenarios import FIGSTEP, PROMPT_FIGSTEP, TEXT, figstep_caption
from shiftdc.errors import InputError

BENCHMARK: Final = "figstep"
ATTACKS: Final[tuple[str, ...]] = (FIGSTEP, TEXT)
COLUMNS: Final[tuple[str, ...]] = (
    "dataset",
    "category_id",
    "task_id",
    "category_name",
    "question",
    "instruction",
)
SUBSETS: Final[dict[str, tuple[str, str]]] = {
    "full": ("safebench.csv", "SafeBench"),
    "tiny": ("SafeBench-Tiny.csv", "SafeBench-Tiny"),
}
"""Subset -> (question CSV, image folder under images/)."""
_KEY_FIELDS: Final[tuple[str, ...]] = ("dataset", "category_id", "task_id", "question")


def image_name(dataset: str, category_id: str, task_id: str) -> str:
    """Upstream file name of one FigStep image."""
    return f"query_{dataset}_{category_id}_{task_id}_6.png"


def _image_dir(root: Path, csv_path: Path, first_name: str, folder: str) -> Path:
    """The folder that holds the images, found by looking for the first expected one."""
    candidates = [
        root / "images" / folder,
        root / "data" / "images" / folder,
        csv_path.parent.parent / "images" / folder,
        root / "images",
        csv_path.parent,
        root,
    ]
    for candidate in candidates:
        if (candidate / first_name).is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates[1:])
    raise DatasetLayoutError(
        BENCHMARK, candidates[0] / first_name, f"(also looked in {looked}) Download the images."
    )


def _check_rows(rows: list[dict[str, str]], csv_path: Path) -> None:
    """Every row must have the fields its id and image name are built from."""
    for n, row in enumerate(rows, start=1):
        empty = [f for f in _KEY_FIELDS if not row.get(f, "").strip()]
        if empty:
            raise DatasetFormatError(
                f"{BENCHMARK}: {csv_path} data row {n} (line {n + 1}) has no "
                f"{', '.join(empty)}, so its image query_<dataset>_<category_id>_<task_id>_6"
                ".png cannot be named; fix or delete that row"
            )


def load_figstep(
    data_dir: Path | str | None = None,
    seed: int = 0,
    attacks: Sequence[str] = (FIGSTEP,),
    subset: str = "full",
    csv_name: str | None = None,
) -> list[EvalItem]:
    """FigStep items (the typographic attack; add "text" for the plain questions).

    `subset`: "full" (SafeBench, 500 requests) or "tiny" (SafeBench-Tiny, 50).
    """
    bad = [a for a in attacks if a not in ATTACKS]
    if bad:
        raise InputError(f"unknown FigStep attack(s) {bad}; expected some of {ATTACKS}")
    if subset not in SUBSETS:
        raise InputError(f"unknown FigStep subset {subset!r}; use one of {', '.join(SUBSETS)}")
    default_csv, folder = SUBSETS[subset]
    csv_name = csv_name or default_csv
    root = require_data_dir(data_dir, BENCHMARK, csv_name)
    csv_path = find_file(
        root,
        BENCHMARK,
        [csv_name, f"question/{csv_name}", f"data/question/{csv_name}"],
        "Pass the FigStep folder that holds the SafeBench CSV and images/.",
    )
    rows = read_csv(csv_path, BENCHMARK, COLUMNS)
    _check_rows(rows, csv_path)
    image_dir: Path | None = None
    if rows and FIGSTEP in attacks:
        first = rows[0]
        first_name = image_name(first["dataset"], first["category_id"], first["task_id"])
        image_dir = _image_dir(root, csv_path, first_name, folder)
    items: list[EvalItem] = []
    for row in rows:
        key = f"{row['dataset']}_{row['category_id']}_{row['task_id']}"
        for attack in attacks:
            is_image = attack == FIGSTEP
            image = None
            if is_image and image_dir is not None:
                image = image_dir / image_name(row["dataset"], row["category_id"], row["task_id"])
            items.append(
                EvalItem(
                    id=f"{BENCHMARK}/{key}/{attack}",
                    prompt=PROMPT_FIGSTEP if is_image else row["question"],
                    image=image,
                    scenario=row["category_name"],
                    attack=attack,
                    kind="harmful",
                    benchmark=BENCHMARK,
                    caption=figstep_caption(row["instruction"]) if is_image else None,
                    request=row["question"],
                    meta={
                        "instruction": row["instruction"],
                        "category_id": row["category_id"],
                        "subset": subset,
                    },
                )
            )
    return items
