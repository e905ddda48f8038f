"""JailBreakV-28K in its upstream layout (the image-based attacks by default).

    <data_dir>/JailBreakV_28K/JailBreakV_28K.csv  (or the CSV directly in <data_dir>;
        mini_JailBreakV_28K.csv with subset="mini")
        columns: id, jailbreak_query, redteam_query, format, policy, image_path, from,
        selected_mini, transfer_from_llm
    image_path is relative to the CSV's folder (figstep/..., query_related/...,
    llm_transfer_attack/...).

`format` values (dataset card of JailbreakV-28K/JailBreakV-28k): Template, Persuade,
Logic (LLM-transfer text attacks, paired with an unrelated image) and figstep, SD, typo,
SD_typo (image attacks). Items carry the paper's attack group as `attack` (FigStep,
Query-relevant = SD / typo / SD_typo, or the text format's own name) and the raw value
as `format`; `formats` selects by either (case, '-', '_' and spaces ignored).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from shiftdc.data.item import EvalItem
from shiftdc.data.layout import find_file, read_csv, require_data_dir, require_dir
from shiftdc.data.load_errors import DatasetFormatError
from shiftdc.errors import InputError

BENCHMARK: Final = "jailbreakv"
COLUMNS: Final[tuple[str, ...]] = (
    "id",
    "jailbreak_query",
    "redteam_query",
    "format",
    "policy",
    "image_path",
)
FIGSTEP_GROUP: Final = "FigStep"
QUERY_RELEVANT_GROUP: Final = "Query-relevant"
GROUPS: Final[dict[str, tuple[str, ...]]] = {
    FIGSTEP_GROUP: ("figstep",),
    QUERY_RELEVANT_GROUP: ("SD", "typo", "SD_typo"),
    "LLM-transfer": ("Template", "Persuade", "Logic"),
}
"""The paper's attack groups and the `format` values each holds."""
IMAGE_BASED_FORMATS: Final[tuple[str, ...]] = (FIGSTEP_GROUP, QUERY_RELEVANT_GROUP)
SUBSETS: Final[dict[str, str]] = {
    "full": "JailBreakV_28K.csv",
    "mini": "mini_JailBreakV_28K.csv",
}


def _norm(name: str) -> str:
    """Lower-case without '-', '_', '+' or spaces, so 'SD_typo' matches 'sd-typo'."""
    return re.sub(r"[\s_+\-]+", "", name.strip().lower())


_GROUP_OF: Final[dict[str, str]] = {
    _norm(fmt): group for group, fmts in GROUPS.items() for fmt in fmts
}


def attack_group(fmt: str) -> str:
    """The paper's attack group of a `format` value (FigStep, Query-relevant, LLM-transfer);
    an unknown value is its own group."""
    return _GROUP_OF.get(_norm(fmt), fmt)


def is_image_based(fmt: str) -> bool:
    """Whether a `format` value is one of the image attacks (FigStep or Query-relevant)."""
    return attack_group(fmt) in IMAGE_BASED_FORMATS


def _wanted(formats: Sequence[str]) -> set[str]:
    """Normalised format values selected by group names and/or format values."""
    wanted: set[str] = set()
    for name in formats:
        group = next((g for g in GROUPS if _norm(g) == _norm(name)), None)
        wanted |= {_norm(f) for f in GROUPS[group]} if group else {_norm(name)}
    return wanted


def _csv_name(subset: str, mini: bool) -> str:
    if subset not in SUBSETS:
        raise InputError(
            f"unknown JailBreakV-28K subset {subset!r}; use one of {', '.join(SUBSETS)}"
        )
    return SUBSETS["mini" if mini else subset]


def _why_empty(path: Path, rows: list[dict[str, str]], formats: Sequence[str]) -> str:
    """The 'has no items' explanation: what was asked for and what the file holds."""
    present = Counter(r["format"] for r in rows)
    held = ", ".join(f"{fmt} ({n})" for fmt, n in sorted(present.items())) or "no rows"
    return (
        f"{BENCHMARK}: {path} has no rows of the selected formats ({', '.join(formats)}); "
        f"it holds {held}. Pass --formats with some of those (groups: {', '.join(GROUPS)}), "
        "or use the full download"
    )


def load_jailbreakv(
    data_dir: Path | str | None = None,
    seed: int = 0,
    formats: Sequence[str] | None = None,
    subset: str = "full",
    mini: bool = False,
) -> list[EvalItem]:
    """Rows of the chosen formats or groups (default: FigStep + Query-relevant) as harmful
    items; `subset="mini"` (or `mini=True`) reads mini_JailBreakV_28K.csv."""
    name = _csv_name(subset, mini)
    root = require_data_dir(data_dir, BENCHMARK, name)
    csv_path = find_file(
        root,
        BENCHMARK,
        [f"JailBreakV_28K/{name}", name],
        "Pass the JailBreakV-28K folder that holds the CSV and its image folders.",
    )
    rows = read_csv(csv_path, BENCHMARK, COLUMNS)
    asked = list(formats) if formats is not None else list(IMAGE_BASED_FORMATS)
    wanted = _wanted(asked)
    chosen = [(i, r) for i, r in enumerate(rows, start=1) if _norm(r["format"]) in wanted]
    if not chosen:
        raise DatasetFormatError(_why_empty(csv_path, rows, asked))
    base = csv_path.parent
    paths = [r["image_path"].replace("\\", "/").strip() for _, r in chosen]
    for folder in sorted({p.split("/")[0] for p in paths if "/" in p}):
        require_dir(base / folder, BENCHMARK, "The image folders sit next to the CSV.")
    items: list[EvalItem] = []
    for (n, row), rel in zip(chosen, paths, strict=True):
        if not row["id"].strip() or not rel:
            raise DatasetFormatError(
                f"{BENCHMARK}: {csv_path} data row {n} (format {row['format']!r}) lacks "
                f"{'id' if not row['id'].strip() else 'image_path'}"
            )
        items.append(
            EvalItem(
                id=f"{BENCHMARK}/{row['id'].strip()}",
                prompt=row["jailbreak_query"],
                image=base / rel,
                scenario=row["policy"],
                attack=attack_group(row["format"]),
                kind="harmful",
                benchmark=BENCHMARK,
                request=row["redteam_query"] or None,
                meta={"format": row["format"], "source": row.get("from", "")},
            )
        )
    return items
