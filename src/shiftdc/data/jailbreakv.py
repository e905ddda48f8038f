"""JailBreakV-28K in its upstream layout (image-based attack formats by default).

    <data_dir>/JailBreakV_28K.csv  (or <data_dir>/JailBreakV_28K/JailBreakV_28K.csv;
        mini_JailBreakV_28K.csv with mini=True)
        columns: id, jailbreak_query, redteam_query, format, policy, image_path, ...
    image_path is relative to the CSV's folder (figstep/..., query_related/..., ...).

The LLM-transfer formats (Template, Persuade, Logic) put the attack in the text and pair
it with an unrelated image; the image-based formats (FigStep, Query-relevant) put it in
the image, and only those are loaded unless `formats` says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from shiftdc.data.item import EvalItem
from shiftdc.data.layout import find_file, read_csv, require_data_dir, require_dir

BENCHMARK: Final = "jailbreakv"
COLUMNS: Final[tuple[str, ...]] = (
    "id",
    "jailbreak_query",
    "redteam_query",
    "format",
    "policy",
    "image_path",
)
IMAGE_BASED_FORMATS: Final[tuple[str, ...]] = ("FigStep", "Query-relevant")
_IMAGE_FOLDERS: Final[frozenset[str]] = frozenset({"figstep", "query-related", "query-relevant"})


def _norm(name: str) -> str:
    """Lower-case with '_' and spaces as '-', so 'query_related' matches 'Query-related'."""
    return re.sub(r"[\s_]+", "-", name.strip().lower())


def is_image_based(fmt: str, image_path: str) -> bool:
    """Whether a row is an image-based attack, by its format or its image folder."""
    folder = image_path.replace("\\", "/").split("/", 1)[0]
    wanted = {_norm(f) for f in IMAGE_BASED_FORMATS}
    return _norm(fmt) in wanted or _norm(folder) in _IMAGE_FOLDERS


def load_jailbreakv(
    data_dir: Path | str | None = None,
    seed: int = 0,
    formats: Sequence[str] | None = None,
    mini: bool = False,
) -> list[EvalItem]:
    """Rows of the chosen formats (default: image-based only) as harmful items."""
    name = "mini_JailBreakV_28K.csv" if mini else "JailBreakV_28K.csv"
    root = require_data_dir(data_dir, BENCHMARK, name)
    csv_path = find_file(
        root,
        BENCHMARK,
        [name, f"JailBreakV_28K/{name}"],
        "Pass the JailBreakV-28K folder that holds the CSV and its image folders.",
    )
    rows = read_csv(csv_path, BENCHMARK, COLUMNS)
    if formats is None:
        chosen = [r for r in rows if is_image_based(r["format"], r["image_path"])]
    else:
        wanted = {_norm(f) for f in formats}
        chosen = [r for r in rows if _norm(r["format"]) in wanted]
    base = csv_path.parent
    paths = [r["image_path"].replace("\\", "/") for r in chosen]
    for folder in sorted({p.split("/")[0] for p in paths if "/" in p}):
        require_dir(base / folder, BENCHMARK, "The image folders sit next to the CSV.")
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for row, rel in zip(chosen, paths, strict=True):
        item_id = f"{BENCHMARK}/{row['id']}"
        seen[item_id] = seen.get(item_id, 0) + 1
        if seen[item_id] > 1:  # keep ids unique even if the CSV repeats one
            item_id = f"{item_id}#{seen[item_id]}"
        items.append(
            EvalItem(
                id=item_id,
                prompt=row["jailbreak_query"],
                image=base / rel,
                scenario=row["policy"],
                attack=row["format"],
                kind="harmful",
                benchmark=BENCHMARK,
                request=row["redteam_query"],
                meta={"format": row["format"], "source": row.get("from", "")},
            )
        )
    return items
