"""The one JSONL record writer and reader (a torn last line is ignored)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shiftdc.errors import InputError
from shiftdc.records import atomic


def read_jsonl_records(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """(records, torn) of a JSONL records file; a torn last line is ignored, others refused."""
    try:
        data = path.read_bytes()
    except IsADirectoryError as exc:
        raise InputError(f"{path} is a directory, not a records file") from exc
    lines = data.split(b"\n")
    torn = bool(lines[-1])  # no newline after the last line: a killed writer
    records: list[dict[str, Any]] = []
    for no, raw in enumerate(lines[:-1], 1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(
                f"{path}:{no}: not a shiftdc record ({exc.__class__.__name__}); "
                "the file was changed by something else"
            ) from exc
        if not isinstance(rec, dict) or "id" not in rec:
            raise InputError(f"{path}:{no}: not a shiftdc record (no 'id')")
        records.append(rec)
    return records, torn


def is_error(record: dict[str, Any]) -> bool:
    """Whether a record stands for a failed item (retried on the next run)."""
    return bool(record.get("error"))


def json_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"


def write_records(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Replace `path` with these records, atomically (for derived files such as rescores)."""
    atomic.write_text(path, "".join(json_line(r) for r in records))
