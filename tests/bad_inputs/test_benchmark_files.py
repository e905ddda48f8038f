"""Bad benchmark files: each row is a broken download, the exception the loader raises, the
CLI's exit status (2: one line on stderr, no traceback) and a fragment of the message."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from shiftdc.cli import main
from shiftdc.data import DatasetFormatError, DatasetLayoutError, load_benchmark
from shiftdc.errors import InputError, ShiftDCError
from tests.helpers import upstream_layouts as layouts

Case = tuple[str, Path, dict]  # benchmark, data dir, loader options
pytestmark = pytest.mark.filterwarnings("ignore:mm-safetybench. loading")  # partial fixture


def _edit_json(path: Path, change: Callable) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def _mmsb(change: Callable) -> Callable[[Path], Case]:
    def build(tmp: Path) -> Case:
        root = layouts.make_mm_safetybench(tmp)
        _edit_json(root / "processed_questions" / "01-Illegal_Activitiy.json", change)
        return "mm-safetybench", root, {}

    return build


def _mmsb_list(tmp: Path) -> Case:
    root = layouts.make_mm_safetybench(tmp)
    (root / "processed_questions" / "02-HateSpeech.json").write_text("[]", encoding="utf-8")
    return "mm-safetybench", root, {}


def _vlguard(change: Callable) -> Callable[[Path], Case]:
    def build(tmp: Path) -> Case:
        root = layouts.make_vlguard(tmp)
        _edit_json(root / "test.json", change)
        return "vlguard", root, {}

    return build


def _set(index: int, key: str, value: object) -> Callable:
    def change(entries: list) -> None:
        entries[index][key] = value

    return change


def _figstep_row_without(field: str) -> Callable[[Path], Case]:
    def build(tmp: Path) -> Case:
        data = layouts.make_figstep(tmp)
        path = data / "question" / "safebench.csv"
        lines = path.read_text(encoding="utf-8").splitlines()
        header, row = lines[0].split(","), lines[2].split(",")
        row[header.index(field)] = ""
        lines[2] = ",".join(row)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return "figstep", data, {}

    return build


def _jailbreakv_text_only(tmp: Path) -> Case:
    root = tmp / "jbv"
    rows = [
        dict.fromkeys(layouts.JBV_COLUMNS, "x") | {"id": str(i), "format": fmt, "image_path": "a"}
        for i, fmt in enumerate(("Template", "Persuade", "Template"))
    ]
    layouts.write_csv(root / "JailBreakV_28K" / "JailBreakV_28K.csv", layouts.JBV_COLUMNS, rows)
    return "jailbreakv", root, {}


def _jailbreakv_formats(formats: list[str]) -> Callable[[Path], Case]:
    def build(tmp: Path) -> Case:
        return "jailbreakv", layouts.make_jailbreakv(tmp), {"formats": formats}

    return build


def _latin1(kind: str) -> Callable[[Path], Case]:
    """A benchmark file re-encoded as Latin-1 with a non-ASCII character."""

    def build(tmp: Path) -> Case:
        if kind == "mme":
            root = layouts.make_mme(tmp, "current")
            path = next(root.rglob("000000006040.txt"))
            name = "mme"
        elif kind == "figstep":
            root = layouts.make_figstep(tmp)
            path = root / "question" / "safebench.csv"
            name = "figstep"
        else:
            root = layouts.make_vlguard(tmp)
            path = root / "test.json"
            name = "vlguard"
        text = path.read_text(encoding="utf-8").replace("Placeholder", "Plac\u00e9holder", 1)
        path.write_bytes(text.replace("?", "\u00e9?", 1).encode("latin-1"))
        return name, root, {}

    return build


def _mmsb_missing_chosen(tmp: Path) -> Case:
    return "mm-safetybench", layouts.make_mm_safetybench(tmp), {"scenarios": ["03"]}


def _figstep_tiny_absent(tmp: Path) -> Case:
    return "figstep", layouts.make_figstep(tmp), {"subset": "tiny"}


def _mme_bad_line(tmp: Path) -> Case:
    root = layouts.make_mme(tmp, "old")
    next(root.rglob("000000012.txt")).write_text("How many?\tmaybe\n", encoding="utf-8")
    return "mme", root, {}


ROWS: list[tuple[str, Callable[[Path], Case], type[Exception], str]] = [
    (
        "mmsb-entry-is-a-string",
        _mmsb(lambda t: t.__setitem__("0", "just text")),
        DatasetFormatError,
        "entry '0' should be an object with 'Question', 'Key Phrase', ..., got a string",
    ),
    (
        "mmsb-field-is-a-number",
        _mmsb(lambda t: t["1"].__setitem__("Question", 7)),
        DatasetFormatError,
        "entry '1' has an int as the field 'Question'",
    ),
    ("mmsb-file-is-a-list", _mmsb_list, DatasetFormatError, "should map question ids to entries"),
    ("mmsb-chosen-scenario-missing", _mmsb_missing_chosen, DatasetLayoutError, "03-Malware"),
    (
        "vlguard-instr-resp-null",
        _vlguard(_set(0, "instr-resp", None)),
        DatasetFormatError,
        "entry 0 (id 'safe_0'): 'instr-resp' should be a list of {instruction, response} "
        "objects, got null",
    ),
    (
        "vlguard-instr-resp-dict",
        _vlguard(_set(1, "instr-resp", {"instruction": "x"})),
        DatasetFormatError,
        "entry 1 (id 'unsafe_0'): 'instr-resp' should be a list",
    ),
    (
        "vlguard-image-int",
        _vlguard(_set(1, "image", 5)),
        DatasetFormatError,
        "'image' should be a file name under test/, got an int",
    ),
    (
        "vlguard-image-null",
        _vlguard(_set(0, "image", None)),
        DatasetFormatError,
        "entry 0 (id 'safe_0'): 'image' should be a file name under test/, got null",
    ),
    (
        "vlguard-entry-a-string",
        _vlguard(lambda e: e.__setitem__(1, "oops")),
        DatasetFormatError,
        "entry 1 should be an object, got a string",
    ),
    (
        "vlguard-instruction-a-list",
        _vlguard(lambda e: e[1]["instr-resp"][0].__setitem__("instruction", ["a"])),
        DatasetFormatError,
        "whose 'instruction' is a list, not text",
    ),
    (
        "figstep-row-without-category",
        _figstep_row_without("category_id"),
        DatasetFormatError,
        "data row 2 (line 3) has no category_id",
    ),
    (
        "figstep-row-without-task",
        _figstep_row_without("task_id"),
        DatasetFormatError,
        "data row 2 (line 3) has no task_id",
    ),
    ("figstep-tiny-not-downloaded", _figstep_tiny_absent, DatasetLayoutError, "SafeBench-Tiny.csv"),
    (
        "jailbreakv-only-text-rows",
        _jailbreakv_text_only,
        DatasetFormatError,
        "has no rows of the selected formats (FigStep, Query-relevant); it holds Persuade (1), "
        "Template (2)",
    ),
    (
        "jailbreakv-unknown-format",
        _jailbreakv_formats(["OCR"]),
        DatasetFormatError,
        "has no rows of the selected formats (OCR)",
    ),
    ("mme-not-utf8", _latin1("mme"), DatasetFormatError, "000000006040.txt is not UTF-8 text"),
    ("figstep-not-utf8", _latin1("figstep"), DatasetFormatError, "safebench.csv is not UTF-8"),
    ("vlguard-not-utf8", _latin1("vlguard"), DatasetFormatError, "test.json is not UTF-8 text"),
    ("mme-bad-answer", _mme_bad_line, DatasetFormatError, "line 1 should be 'question<TAB>Yes|No'"),
    (
        "mmsb-unknown-scenario",
        lambda tmp: ("mm-safetybench", layouts.make_mm_safetybench(tmp), {"scenarios": ["14"]}),
        InputError,
        "unknown MM-SafetyBench scenario '14'",
    ),
]


@pytest.mark.parametrize(
    ("build", "error", "fragment"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_loader_raises_a_one_line_error(tmp_path, build, error, fragment):
    benchmark, data_dir, options = build(tmp_path)
    with pytest.raises(error) as info:
        load_benchmark(benchmark, data_dir, **options)
    assert isinstance(info.value, ShiftDCError)  # the CLI maps these to exit status 2
    message = str(info.value)
    assert fragment in message and "\n" not in message


def _cli_args(options: dict) -> list[str]:
    args = []
    for key, value in options.items():
        args += [f"--{key}", ",".join(value) if isinstance(value, list) else value]
    return args


CLI_ROWS = [
    r
    for r in ROWS
    if r[0]
    in {
        "mmsb-entry-is-a-string",
        "vlguard-instr-resp-null",
        "vlguard-image-int",
        "figstep-row-without-category",
        "jailbreakv-only-text-rows",
        "mme-not-utf8",
        "mmsb-chosen-scenario-missing",
    }
]


@pytest.mark.parametrize(
    ("build", "fragment"), [(r[1], r[3]) for r in CLI_ROWS], ids=[r[0] for r in CLI_ROWS]
)
def test_cli_exits_2_with_one_line(tiny_dir, tmp_path, capsys, build, fragment):
    benchmark, data_dir, options = build(tmp_path)
    argv = ["evaluate", "--model", str(tiny_dir("llava")), "--benchmark", benchmark]
    argv += ["--data-dir", str(data_dir), "--out", str(tmp_path / "run"), "--device", "cpu"]
    assert main([*argv, "--quiet", *_cli_args(options)]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("shiftdc evaluate: error:")]
    assert len(errors) == 1 and fragment in errors[0] and "Traceback" not in err


@pytest.mark.parametrize(
    ("benchmark", "flags", "fragment"),
    [
        ("mm-safetybench", ["--subset", "tiny"], "--subset does not apply to benchmark"),
        ("mme", ["--formats", "SD"], "--formats does not apply to benchmark 'mme'"),
        ("builtin", ["--scenarios", "01"], "it takes no options"),
    ],
)
def test_option_for_another_benchmark_exits_2_before_loading(
    tmp_path, capsys, benchmark, flags, fragment
):
    argv = ["evaluate", "--model", str(tmp_path / "no-model"), "--benchmark", benchmark]
    if benchmark != "builtin":
        argv += ["--data-dir", str(tmp_path)]
    assert main([*argv, "--out", str(tmp_path / "run"), *flags]) == 2
    assert fragment in capsys.readouterr().err
