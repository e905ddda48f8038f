"""Reading request JSONL files and images, writing result JSONL files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from shiftdc.errors import InputError
from shiftdc.method.sample import Sample
from shiftdc.records.duplicates import unique_by_id
from shiftdc.records.images import ImageProblem, open_rgb
from shiftdc.records.keys import sample_key


def load_image(path: str | Path) -> Image.Image:
    """Open an image file as RGB (`records.images`); InputError naming the file if not."""
    try:
        return open_rgb(path)
    except ImageProblem as exc:
        shown = str(path).replace("\0", "\\0")
        raise InputError(f"cannot read image {shown}: {exc}") from exc


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line, naming the line on bad JSON."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p} is a directory; pass a JSONL file (one JSON object per line)")
    if not p.is_file():
        raise InputError(f"input file not found: {p}")
    with p.open("rb") as fh:
        for no, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8-sig" if no == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{p}:{no}: not UTF-8 text (byte {raw[exc.start]:#04x} at column "
                    f"{exc.start + 1}); save the file as UTF-8"
                ) from exc
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{p}:{no}: malformed JSON ({exc.msg})") from exc
            except RecursionError as exc:
                raise InputError(f"{p}:{no}: JSON nested too deeply") from exc
            if not isinstance(obj, dict):
                raise InputError(f"{p}:{no}: expected a JSON object, got {_json_type(obj)}")
            yield no, obj


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type (for messages)."""
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names |= {list: "an array", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def read_samples(path: str | Path, require_image: bool = False) -> list[Sample]:
    """Read {"id", "image", "prompt", "caption"?} records; image paths resolve against the file."""
    p = Path(path)
    samples: list[Sample] = []
    for no, obj in iter_jsonl(p):
        where = f"{p}:{no}"
        if "id" not in obj:
            raise InputError(f"{where}: record has no 'id'")
        raw_id = obj["id"]
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or str(raw_id) == "":
            raise InputError(
                f"{where}: 'id' must be a non-empty string or an integer, got {_json_type(raw_id)}"
            )
        sid = str(raw_id)
        prompt = obj.get("prompt")
        if prompt is not None and not isinstance(prompt, str):
            raise InputError(
                f"{where}: 'prompt' of record {sid!r} must be a string, got {_json_type(prompt)}"
            )
        if prompt is None or not prompt.strip():
            raise InputError(f"{where}: empty or missing 'prompt' for id {sid!r}")
        image = None
        raw_image = obj.get("image")
        if raw_image is not None and not isinstance(raw_image, str):
            raise InputError(
                f"{where}: 'image' of record {sid!r} must be a file path string, "
                f"got {_json_type(raw_image)}"
            )
        if raw_image:
            img_path = Path(raw_image)
            if not img_path.is_absolute():
                img_path = p.parent / img_path
            try:
                image = load_image(img_path)
            except InputError as exc:
                raise InputError(f"{where}: record {sid!r}: {exc}") from exc
        elif require_image:
            raise InputError(f"{where}: record {sid!r} has no 'image'")
        caption = obj.get("caption")
        if caption is not None and not isinstance(caption, str):
            raise InputError(
                f"{where}: 'caption' of record {sid!r} must be a string, got {_json_type(caption)}"
            )
        meta = {k: v for k, v in obj.items() if k not in {"id", "prompt", "image", "caption"}}
        samples.append(Sample(id=sid, prompt=prompt, image=image, caption=caption, meta=meta))
    if not samples:
        raise InputError(f"{p}: no records found")
    return unique_by_id(samples, sample_key, where=str(p))
