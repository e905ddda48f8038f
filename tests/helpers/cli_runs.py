"""The real `shiftdc` CLI run in this process, and the files bad-input tests feed it."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

from shiftdc.cli import main


def write_jsonl(path: Path, records: list) -> Path:
    """One line per record; str records are written verbatim, others as JSON."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


def run_cli(capsys, argv: list[str]) -> tuple[int, str]:
    """(exit status, stderr) of `shiftdc ARGV` run in this process."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse refuses a flag
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err
