"""Content keys: digests of an item's input (prompt, caption, image pixels or file)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

    from shiftdc.data.item import EvalItem
    from shiftdc.method.sample import Sample


def digest(value: Any) -> str:
    """Short stable digest of a JSON-able value."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def pixels_digest(image: Image.Image | None) -> str | None:
    """Digest of the picture the model gets (mode, size, pixel bytes)."""
    if image is None:
        return None
    h = hashlib.sha256(f"{image.mode}:{image.size}:".encode())
    h.update(image.tobytes())
    return h.hexdigest()[:16]


def file_digest(path: Path) -> str:
    """Digest of a file's bytes ('missing' or 'unreadable' when it cannot be read)."""
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()[:16]
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "unreadable"


def sample_key(sample: Sample) -> str:
    """Content key of a JSONL request: prompt, caption and the image's pixels."""
    return digest([sample.prompt, sample.caption, pixels_digest(sample.image)])


def item_key(item: EvalItem) -> str:
    """Content key of a benchmark item: request/attack fields and its image file's bytes."""
    image = item.image
    if image is None:
        picture = None
    elif isinstance(image, Path):
        picture = file_digest(image)
    else:
        picture = "<generated>"  # rendered from the fields below
    return digest(
        [
            item.prompt,
            item.request,
            item.attack,
            item.scenario,
            item.kind,
            item.answer,
            item.caption,
            picture,
            dict(item.meta),
        ]
    )
