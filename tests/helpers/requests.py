"""Image request files on disk, as `shiftdc` reads them."""

import json
from pathlib import Path

import numpy as np
from PIL import Image


def write_requests(folder: Path, name: str, prompts: list[str], caption: str | None = None) -> Path:
    """folder/name.jsonl: one image request per prompt, each with its own small PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(name))
    path = folder / f"{name}.jsonl"
    with path.open("w") as fh:
        for i, p in enumerate(prompts):
            img = folder / f"{name}_{i}.png"
            Image.fromarray(rng.integers(0, 255, (14, 10 + i, 3), dtype=np.uint8)).save(img)
            rec = {"id": f"{name}-{i}", "image": img.name, "prompt": p}
            if caption:
                rec["caption"] = caption
            fh.write(json.dumps(rec) + "\n")
    return path


def read_jsonl(path: Path) -> list[dict]:
    """Every record of a JSONL file."""
    return [json.loads(line) for line in path.read_text().splitlines()]
