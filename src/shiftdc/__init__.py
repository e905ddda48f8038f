"""shiftdc: training-free safety calibration of vision-language models (ShiftDC)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_vlm": "shiftdc.models.loading",
    "VLM": "shiftdc.models.loading",
    "SafetyDirection": "shiftdc.method.direction",
    "Captioner": "shiftdc.method.captions",
    "ShiftDC": "shiftdc.method.pipeline",
    "generate_plain": "shiftdc.models.generation",
    "Sample": "shiftdc.method.sample",
    "make_tiny_model": "shiftdc.models.tiny",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    """Import public names on first use, so `import shiftdc.data` stays light."""
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'shiftdc' has no attribute {name!r}")
