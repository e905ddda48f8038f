"""Reading request JSONL files and images, writing result JSONL files."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from shiftdc.errors import InputError
from shiftdc.records import sample_key, unique_by_id
from shiftdc.sample import Sample

SUPPORTED_MODES = {"RGB", "RGBA", "L", "LA", "P", "I;16", "I", "F", "CMYK", "YCbCr", "1"}


def load_image(path: str | Path) -> Image.Image:
    """Open an image file as RGB, with a clear error for missing, corrupt or odd files."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"image file not found: {p}")
    try:
        with Image.open(p) as im:
            im.load()
            if im.mode not in SUPPORTED_MODES:
                raise InputError(
                    f"unsupported image mode {im.mode!r} in {p}; convert it to RGB first"
                )
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise InputError(f"cannot read image {p}: {exc}; is it a valid PNG/JPEG file?") from exc


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line, naming the line on bad JSON."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"input file not found: {p}")
    with p.open(encoding="utf-8") as fh:
        for no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{p}:{no}: malformed JSON ({exc.msg})") from exc
            if not isinstance(obj, dict):
                raise InputError(f"{p}:{no}: expected a JSON object, got {type(obj).__name__}")
            yield no, obj


def read_samples(path: str | Path, require_image: bool = False) -> list[Sample]:
    """Read {"id", "image", "prompt", "caption"?} records; image paths resolve against the file."""
    p = Path(path)
    samples: list[Sample] = []
    for no, obj in iter_jsonl(p):
        where = f"{p}:{no}"
        if "id" not in obj:
            raise InputError(f"{where}: record has no 'id'")
        sid = str(obj["id"])
        prompt = obj.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise InputError(f"{where}: empty or missing 'prompt' for id {sid!r}")
        image = None
        if obj.get("image"):
            img_path = Path(obj["image"])
            if not img_path.is_absolute():
                img_path = p.parent / img_path
            try:
                image = load_image(img_path)
            except InputError as exc:
                raise InputError(f"{where}: {exc}") from exc
        elif require_image:
            raise InputError(f"{where}: record {sid!r} has no 'image'")
        caption = obj.get("caption")
        if caption is not None and not isinstance(caption, str):
            raise InputError(f"{where}: 'caption' must be a string")
        meta = {k: v for k, v in obj.items() if k not in {"id", "prompt", "image", "caption"}}
        samples.append(Sample(id=sid, prompt=prompt, image=image, caption=caption, meta=meta))
    if not samples:
        raise InputError(f"{p}: no records found")
    return unique_by_id(samples, sample_key, where=str(p))


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    """Write records one per line (overwrites)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
