"""Helpers that check a benchmark directory against its upstream layout."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shiftdc.data.load_errors import DatasetFormatError, DatasetLayoutError


def require_data_dir(data_dir: Path | str | None, benchmark: str, expected: str) -> Path:
    """The data directory as a Path; raise DatasetLayoutError if it is not given or missing."""
    if data_dir is None:
        raise DatasetLayoutError(
            benchmark,
            expected,
            f"{benchmark} is not bundled: download it and pass the folder that holds {expected}.",
            headline=f"{benchmark}: no data directory given.",
        )
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DatasetLayoutError(
            benchmark, root, f"Pass the folder that holds {expected} (download it first)."
        )
    return root


def first_existing(candidates: Sequence[Path]) -> Path | None:
    """The first path in `candidates` that exists, or None."""
    return next((p for p in candidates if p.exists()), None)


def find_file(root: Path, benchmark: str, relatives: Sequence[str], hint: str = "") -> Path:
    """The first of `relatives` (paths under root) that is a file; else an error naming them."""
    for rel in relatives:
        path = root / rel
        if path.is_file():
            return path
    also = f" (also looked for {', '.join(relatives[1:])})" if len(relatives) > 1 else ""
    raise DatasetLayoutError(benchmark, root / relatives[0], f"{also.strip()} {hint}".strip())


def require_dir(path: Path, benchmark: str, hint: str = "") -> Path:
    """`path` if it is a directory, else DatasetLayoutError naming it."""
    if not path.is_dir():
        raise DatasetLayoutError(benchmark, path, hint)
    return path


def require_file(path: Path, benchmark: str, hint: str = "") -> Path:
    """`path` if it is a file, else DatasetLayoutError naming it."""
    if not path.is_file():
        raise DatasetLayoutError(benchmark, path, hint)
    return path


def read_json(path: Path, benchmark: str) -> Any:
    """Parse a JSON file, turning syntax errors into DatasetFormatError naming the file."""
    text = read_text(path, benchmark)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetFormatError(f"{benchmark}: {path} is not valid JSON: {exc}") from exc


def _not_utf8(path: Path, benchmark: str, exc: UnicodeDecodeError) -> DatasetFormatError:
    """The error for a benchmark file that is not UTF-8 text (names file and byte offset)."""
    return DatasetFormatError(
        f"{benchmark}: {path} is not UTF-8 text (byte {exc.start}: {exc.reason}); "
        "re-download it or convert it to UTF-8"
    )


def read_text(path: Path, benchmark: str) -> str:
    """A UTF-8 text file's content; DatasetFormatError naming the file if it is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, benchmark, exc) from exc


def read_csv(path: Path, benchmark: str, required: Sequence[str]) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts; DatasetFormatError if a required column is missing.

    A short row's missing cells read as "" (callers check the fields they need).
    """
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 24))  # jailbreak texts can be long
    text = read_text(path, benchmark).removeprefix("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in required if c not in columns]
    if missing:
        raise DatasetFormatError(
            f"{benchmark}: {path} lacks column(s) {', '.join(missing)}; "
            f"expected at least {', '.join(required)}, found {', '.join(columns) or 'none'}"
        )
    try:
        return [
            {(k or "").strip(): v if isinstance(v, str) else "" for k, v in row.items()}
            for row in reader
        ]
    except csv.Error as exc:
        raise DatasetFormatError(f"{benchmark}: {path} is not a readable CSV: {exc}") from exc


def json_kind(value: object) -> str:
    """A JSON value's type in words, for messages ("null", "a string", "an int", ...)."""
    if value is None:
        return "null"
    names = {dict: "an object", list: "a list", str: "a string", bool: "a bool", int: "an int"}
    return names.get(type(value)) or f"a {type(value).__name__}"
