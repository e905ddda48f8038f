"""MM-SafetyBench in its upstream layout.

    <data_dir>/processed_questions/01-Illegal_Activitiy.json   id -> {"Question", "Key Phrase",
        "Rephrased Question", "Rephrased Question(SD)", ...}
    <data_dir>/imgs/01-Illegal_Activitiy/{SD,TYPO,SD_TYPO}/<id>.jpg

SD uses "Rephrased Question(SD)", TYPO and SD_TYPO use "Rephrased Question", and the
text-only variant uses the original "Question" with no image.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from shiftdc.data.errors import DatasetFormatError
from shiftdc.data.item import EvalItem
from shiftdc.data.layout import (
    first_existing,
    read_json,
    require_data_dir,
    require_dir,
    require_file,
)
from shiftdc.data.scenarios import MM_SAFETYBENCH_SCENARIOS, SD, SD_TYPO, TEXT, TYPO, typo_caption

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
        raise DatasetFormatError(f"{BENCHMARK}: {path} entry {qid!r} lacks the field {name!r}")
    return value


def load_mm_safetybench(
    data_dir: Path | str | None = None,
    seed: int = 0,
    attacks: Sequence[str] = ATTACKS,
    scenarios: Sequence[str] = MM_SAFETYBENCH_SCENARIOS,
) -> list[EvalItem]:
    """All items of the chosen scenarios and attack types (images load lazily)."""
    bad = [a for a in attacks if a not in ATTACKS]
    if bad:
        raise ValueError(f"unknown MM-SafetyBench attack(s) {bad}; expected some of {ATTACKS}")
    root = _root(data_dir)
    items: list[EvalItem] = []
    for scenario in scenarios:
        path = root / "processed_questions" / f"{scenario}.json"
        require_file(path, BENCHMARK, _HINT)
        table = read_json(path, BENCHMARK)
        if not isinstance(table, dict):
            raise DatasetFormatError(f"{BENCHMARK}: {path} should map question ids to entries")
        for attack in attacks:
            if attack != TEXT:
                require_dir(root / "imgs" / scenario / attack, BENCHMARK, _HINT)
        for qid, entry in table.items():
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
