"""MME in its upstream layouts (utility: yes/no questions, two per image).

The download unpacks to MME_Benchmark_release_version/MME_Benchmark/<subtask>/ (current
zip) or MME_Benchmark_release_version/<subtask>/ (older copies, LLaVA's scripts); the
data directory may be either of those folders or the one above them. Per subtask:
    artwork, celebrity, landmark, posters, scene:
        images/<stem>.jpg  +  questions_answers_YN/<stem>.txt
    the other 9 subtasks:  <stem>.jpg|png  +  <stem>.txt  side by side
Each .txt line is "question<TAB>Yes|No", two lines per image (2,374 questions on 1,187
images in all). Layout checked against the official eval tool (BradyFU/Awesome-Multimodal-
Large-Language-Models, branch Evaluation).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from shiftdc.data.item import EvalItem
from shiftdc.data.layout import read_text, require_data_dir, require_dir
from shiftdc.data.load_errors import DatasetFormatError, DatasetLayoutError
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
QA_FOLDER: Final = "questions_answers_YN"
_HINT: Final = "Pass the unpacked MME_Benchmark_release_version/ folder."


def _has_subtasks(folder: Path) -> bool:
    return any((folder / t).is_dir() for t in SUBTASKS)


def _root(data_dir: Path | str | None) -> Path:
    """The folder holding the subtask folders, in either zip's layout."""
    root = require_data_dir(data_dir, BENCHMARK, "one folder per MME subtask")
    release = root / "MME_Benchmark_release_version"
    for folder in (root, root / "MME_Benchmark", release, release / "MME_Benchmark"):
        if _has_subtasks(folder):
            return folder
    raise DatasetLayoutError(
        BENCHMARK,
        release / "MME_Benchmark" / SUBTASKS[0],
        f"No MME subtask folder found in {root} (nor in its MME_Benchmark/ or "
        f"MME_Benchmark_release_version/[MME_Benchmark/]). {_HINT}",
    )


def _folders(task_dir: Path) -> tuple[Path, Path]:
    """(question folder, image folder) for one subtask, in either subtask layout."""
    qa, images = task_dir / QA_FOLDER, task_dir / "images"
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
    for n, line in enumerate(read_text(path, BENCHMARK).splitlines(), start=1):
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
