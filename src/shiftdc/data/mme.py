"""MME in its upstream layout (utility: yes/no questions, two per image).

<data_dir>/<subtask>/images/<name>.jpg + <subtask>/questions_answer_YES_NO/<name>.txt
    (artwork, celebrity, landmark, posters, scene)
<data_dir>/<subtask>/<name>.jpg|png + <subtask>/<name>.txt  (the other subtasks)
Each .txt line is "question<TAB>Yes|No". <data_dir> may also be the folder above
MME_Benchmark_release_version/.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from shiftdc.data.errors import DatasetFormatError, DatasetLayoutError
from shiftdc.data.item import EvalItem
from shiftdc.data.layout import require_data_dir, require_dir
from shiftdc.data.scenarios import NO_ATTACK

BENCHMARK: Final = "mme"
PERCEPTION: Final[tuple[str, ...]] = (
    "existence",
    "count",
    "position",
    "color",
    "posters",
    "celebrity",
    "scene",
    "landmark",
    "artwork",
    "OCR",
)
COGNITION: Final[tuple[str, ...]] = (
    "commonsense_reasoning",
    "numerical_calculation",
    "text_translation",
    "code_reasoning",
)
SUBTASKS: Final[tuple[str, ...]] = PERCEPTION + COGNITION
#: the two halves of the MME score, each summed over its subtasks (public: eval.metrics)
SUBTASK_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "perception": PERCEPTION,
    "cognition": COGNITION,
}
_IMAGE_EXTS: Final[tuple[str, ...]] = (".jpg", ".png", ".jpeg", ".JPG", ".PNG", ".JPEG")
_HINT: Final = "Pass MME_Benchmark_release_version/ (one folder per subtask)."


def _root(data_dir: Path | str | None) -> Path:
    """The folder holding the subtask folders."""
    root = require_data_dir(data_dir, BENCHMARK, "one folder per MME subtask")
    nested = root / "MME_Benchmark_release_version"
    return nested if nested.is_dir() else root


def _folders(task_dir: Path) -> tuple[Path, Path]:
    """(question folder, image folder) for one subtask, in either upstream layout."""
    qa, images = task_dir / "questions_answer_YES_NO", task_dir / "images"
    if qa.is_dir() or images.is_dir():
        require_dir(qa, BENCHMARK, f"It goes with {images}.")
        require_dir(images, BENCHMARK, f"It goes with {qa}.")
        return qa, images
    return task_dir, task_dir


def _image_for(folder: Path, stem: str) -> Path:
    """The image with this stem (first known extension), or the expected .jpg path."""
    for ext in _IMAGE_EXTS:
        path = folder / f"{stem}{ext}"
        if path.is_file():
            return path
    return folder / f"{stem}.jpg"


def _parse(path: Path) -> list[tuple[str, str]]:
    """(question, yes|no) pairs from one question file."""
    pairs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        question, sep, answer = line.rstrip("\r").rpartition("\t")
        answer = answer.strip().lower()
        if not sep or answer not in ("yes", "no"):
            raise DatasetFormatError(
                f"{BENCHMARK}: {path} line {n} should be 'question<TAB>Yes|No', got {line!r}"
            )
        pairs.append((question.strip(), answer))
    return pairs


def load_mme(
    data_dir: Path | str | None = None, seed: int = 0, subtasks: Sequence[str] | None = None
) -> list[EvalItem]:
    """Yes/no utility items of the chosen subtasks (default: every subtask folder present)."""
    root = _root(data_dir)
    if subtasks is None:
        chosen = [t for t in SUBTASKS if (root / t).is_dir()]
        if not chosen:
            raise DatasetLayoutError(
                BENCHMARK, root / SUBTASKS[0], f"No MME subtask folder found. {_HINT}"
            )
    else:
        chosen = list(subtasks)
        for task in chosen:
            require_dir(root / task, BENCHMARK, _HINT)
    items: list[EvalItem] = []
    for task in chosen:
        qa_dir, image_dir = _folders(root / task)
        category = "cognition" if task in COGNITION else "perception"
        question_files = sorted(qa_dir.glob("*.txt"))
        if not question_files:
            raise DatasetLayoutError(BENCHMARK, qa_dir / "<image name>.txt", _HINT)
        for txt in question_files:
            image = _image_for(image_dir, txt.stem)
            for i, (question, answer) in enumerate(_parse(txt)):
                items.append(
                    EvalItem(
                        id=f"{BENCHMARK}/{task}/{txt.stem}/{i}",
                        prompt=question,
                        image=image,
                        scenario=task,
                        attack=NO_ATTACK,
                        kind="utility",
                        benchmark=BENCHMARK,
                        answer=answer,
                        request=question,
                        meta={"category": category, "image_id": f"{task}/{txt.stem}"},
                    )
                )
    return items
