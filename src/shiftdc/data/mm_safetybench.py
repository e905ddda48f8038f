"""MM-SafetyBench in its upstream layout.

    <data_dir>/processed_questions/01-Illegal_Activitiy.json   id -> {"Question", "Key Phrase",
        "Rephrased Question", "Rephrased Question(SD)", ...}
    <data_dir>/imgs/01-Illegal_Activitiy/{SD,TYPO,SD_TYPO}/<id>.jpg

SD uses "Rephrased Question(SD)", TYPO and SD_TYPO use "Rephrased Question", and the
text-only variant uses the original "Question" with no image (layout as in
isXinLiu/MM-SafetyBench). A download with only some of the 13 scenarios is normal: the
scenarios present load and a warning names the missing ones; `scenarios` picks some by
name or number ("01", "1", "01-Illegal_Activitiy").
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from shiftdc.data.item import EvalItem
from shiftdc.data.layout import (
    first_existing,
    json_kind,
    read_json,
    require_data_dir,
    require_dir,
    require_file,
)
from shiftdc.data.load_errors import DatasetFormatError, DatasetLayoutError
from shiftdc.data.scenarios import MM_SAFETYBENCH_SCENARIOS, SD, SD_TYPO, TEXT, TYPO, typo_caption
from shiftdc.errors import InputError

BENCHMARK: Final = "mm-safetybench"
ATTACKS: Final[tuple[str, ...]] = (SD, TYPO, SD_TYPO, TEXT)
_PROMPT_FIELD: Final[dict[str, str]] = {
    SD: "Rephrased Question(SD)",
    TYPO: "Rephrased Question",
    SD_TYPO: "Rephrased Question",
    TEXT: "Question",
}
_HINT: Final = "Pass the MM-SafetyBench data folder that holds processed_questions/ and imgs/."


def _root(data_dir: Path | str | None) -> Path:
    """The folder holding processed_questions/ (the given one or its data/ subfolder)."""
    root = require_data_dir(data_dir, BENCHMARK, "processed_questions/ and imgs/")
    found = first_existing([root / "processed_questions", root / "data" / "processed_questions"])
    if found is None:
        require_dir(root / "processed_questions", BENCHMARK, _HINT)
    return found.parent if found is not None else root


def _caption(attack: str, phrase: str) -> str | None:
    """What is known of the image: the typed key phrase (nothing for the SD picture)."""
    if attack == TYPO:
        return typo_caption(phrase)
    if attack == SD_TYPO:
        return f'A generated picture with the phrase "{phrase}" typed at the bottom.'
    return None


def _field(entry: dict[str, Any], name: str, path: Path, qid: str) -> str:
    """A required string field of one question entry."""
    value = entry.get(name)
    if not isinstance(value, str):
        got = "lacks" if name not in entry else f"has {json_kind(value)} as"
        raise DatasetFormatError(f"{BENCHMARK}: {path} entry {qid!r} {got} the field {name!r}")
    return value


def resolve_scenarios(names: Sequence[str]) -> list[str]:
    """Scenario names from full names or their numbers ("1", "01"); InputError lists valid."""
    by_number = {s.split("-", 1)[0]: s for s in MM_SAFETYBENCH_SCENARIOS}
    by_name = {s.lower(): s for s in MM_SAFETYBENCH_SCENARIOS}
    out = []
    for name in names:
        key = name.strip()
        found = by_name.get(key.lower()) or by_number.get(key.zfill(2) if key.isdigit() else key)
        if found is None:
            raise InputError(
                f"unknown MM-SafetyBench scenario {name!r}; use a number 1-13 or one of "
                f"{', '.join(MM_SAFETYBENCH_SCENARIOS)}"
            )
        out.append(found)
    return out


def present_scenarios(root: Path) -> list[str]:
    """The scenarios whose processed_questions/<scenario>.json exists under `root`."""
    folder = root / "processed_questions"
    return [s for s in MM_SAFETYBENCH_SCENARIOS if (folder / f"{s}.json").is_file()]


def _chosen(root: Path, scenarios: Sequence[str] | None) -> list[str]:
    """Requested scenarios (each must exist), or all present with a warning naming the rest."""
    if scenarios is not None:
        chosen = resolve_scenarios(scenarios)
        for scenario in chosen:
            require_file(root / "processed_questions" / f"{scenario}.json", BENCHMARK, _HINT)
        return chosen
    chosen = present_scenarios(root)
    if not chosen:
        raise DatasetLayoutError(
            BENCHMARK,
            root / "processed_questions" / f"{MM_SAFETYBENCH_SCENARIOS[0]}.json",
            f"No scenario file of the 13 found. {_HINT}",
        )
    missing = [s for s in MM_SAFETYBENCH_SCENARIOS if s not in chosen]
    if missing:
        warnings.warn(
            f"{BENCHMARK}: loading {len(chosen)} of 13 scenarios; missing from "
            f"{root / 'processed_questions'}: {', '.join(missing)} (choose with --scenarios)",
            stacklevel=3,
        )
    return chosen


def load_mm_safetybench(
    data_dir: Path | str | None = None,
    seed: int = 0,
    attacks: Sequence[str] = ATTACKS,
    scenarios: Sequence[str] | None = None,
) -> list[EvalItem]:
    """Items of the chosen scenarios (default: all present) and attack types (lazy images)."""
    bad = [a for a in attacks if a not in ATTACKS]
    if bad:
        raise InputError(f"unknown MM-SafetyBench attack(s) {bad}; expected some of {ATTACKS}")
    root = _root(data_dir)
    items: list[EvalItem] = []
    for scenario in _chosen(root, scenarios):
        path = root / "processed_questions" / f"{scenario}.json"
        table = read_json(path, BENCHMARK)
        if not isinstance(table, dict):
            raise DatasetFormatError(
                f"{BENCHMARK}: {path} should map question ids to entries, got {json_kind(table)}"
            )
        for attack in attacks:
            if attack != TEXT:
                require_dir(root / "imgs" / scenario / attack, BENCHMARK, _HINT)
        for qid, entry in table.items():
            if not isinstance(entry, dict):
                raise DatasetFormatError(
                    f"{BENCHMARK}: {path} entry {qid!r} should be an object with "
                    f"'Question', 'Key Phrase', ..., got {json_kind(entry)}"
                )
            phrase = _field(entry, "Key Phrase", path, qid)
            question = _field(entry, "Question", path, qid)
            for attack in attacks:
                image = None if attack == TEXT else root / "imgs" / scenario / attack / f"{qid}.jpg"
                items.append(
                    EvalItem(
                        id=f"{BENCHMARK}/{scenario}/{qid}/{attack}",
                        prompt=_field(entry, _PROMPT_FIELD[attack], path, qid),
                        image=image,
                        scenario=scenario,
                        attack=attack,
                        kind="harmful",
                        benchmark=BENCHMARK,
                        caption=_caption(attack, phrase),
                        request=question,
                        meta={"key_phrase": phrase, "question_id": qid},
                    )
                )
    return items
