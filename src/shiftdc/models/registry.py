"""Family registry: config.model_type -> adapter class.

To add a family: write `models/<family>.py` with an `Adapter` subclass (set `family`,
`model_types`, override what differs), a tiny-checkpoint builder in `models/tiny.py`,
and one line in `_ADAPTERS` below.
"""

from __future__ import annotations

from shiftdc.errors import ShiftDCError
from shiftdc.models.base import Adapter
from shiftdc.models.gemma3 import Gemma3Adapter
from shiftdc.models.idefics3 import Idefics3Adapter
from shiftdc.models.llava import LlavaAdapter
from shiftdc.models.llava_next import LlavaNextAdapter
from shiftdc.models.paligemma import PaliGemmaAdapter
from shiftdc.models.qwen2_vl import Qwen2VLAdapter

_ADAPTERS: list[type[Adapter]] = [
    LlavaAdapter,
    LlavaNextAdapter,
    Qwen2VLAdapter,
    Idefics3Adapter,
    Gemma3Adapter,
    PaliGemmaAdapter,
]


def families() -> list[str]:
    """Names of the supported families."""
    return [a.family for a in _ADAPTERS]


def adapter_for_model_type(model_type: str) -> type[Adapter]:
    """The adapter class for a transformers `config.model_type`."""
    for cls in _ADAPTERS:
        if model_type in cls.model_types:
            return cls
    supported = ", ".join(f"{a.family} ({'/'.join(a.model_types)})" for a in _ADAPTERS)
    raise UnsupportedModelError(
        f"model_type {model_type!r} is not supported. Supported families: {supported}. "
        "To add one, write a small Adapter subclass in shiftdc/models/<family>.py and "
        "register it in shiftdc/models/registry.py (see CONTRIBUTING in the README)."
    )


def adapter_for_family(family: str) -> type[Adapter]:
    for cls in _ADAPTERS:
        if cls.family == family:
            return cls
    raise UnsupportedModelError(
        f"unknown family {family!r}; choose one of: {', '.join(families())}"
    )


class UnsupportedModelError(ShiftDCError, ValueError):
    """The model's architecture has no adapter."""
