"""Family registry: family name -> adapter class, and config.model_type -> adapter class.

To add a family: write `models/<family>.py` with an `Adapter` subclass (set `family`,
`model_types`, override what differs), a tiny-checkpoint builder, and one line in
`FAMILIES` below; CONTRIBUTING.md's "add a family" row lists every step.
"""

from __future__ import annotations

from typing import Final

from shiftdc.errors import ShiftDCError
from shiftdc.models.adapter import Adapter
from shiftdc.models.gemma3 import Gemma3Adapter
from shiftdc.models.gemma4 import Gemma4Adapter
from shiftdc.models.glm4v import Glm4vAdapter
from shiftdc.models.idefics3 import Idefics3Adapter, SmolVLMAdapter
from shiftdc.models.internvl import InternVLAdapter
from shiftdc.models.lfm2_vl import Lfm2VlAdapter
from shiftdc.models.llama4 import Llama4Adapter
from shiftdc.models.llava import LlavaAdapter
from shiftdc.models.llava_next import LlavaNextAdapter
from shiftdc.models.llava_onevision import LlavaOnevisionAdapter
from shiftdc.models.mistral3 import Mistral3Adapter
from shiftdc.models.mllama import MllamaAdapter
from shiftdc.models.paligemma import PaliGemmaAdapter
from shiftdc.models.qwen2_vl import Qwen2VLAdapter
from shiftdc.models.qwen3_vl import Qwen3_5Adapter, Qwen3VLAdapter
from shiftdc.registry import lookup

#: the names users pass (`make-tiny-model --family`, `demo --family`); Qwen2.5-VL is served
#: by the Qwen2-VL adapter, so its loaded VLM reports family "qwen2_vl"
FAMILIES: Final[dict[str, type[Adapter]]] = {
    "llava": LlavaAdapter,
    "llava_next": LlavaNextAdapter,
    "qwen2_vl": Qwen2VLAdapter,
    "qwen2_5_vl": Qwen2VLAdapter,
    "idefics3": Idefics3Adapter,
    "gemma3": Gemma3Adapter,
    "paligemma": PaliGemmaAdapter,
    "qwen3_vl": Qwen3VLAdapter,
    "qwen3_vl_moe": Qwen3VLAdapter,
    "qwen3_5": Qwen3_5Adapter,
    "llava_onevision": LlavaOnevisionAdapter,
    "internvl": InternVLAdapter,
    "glm4v": Glm4vAdapter,
    "gemma4": Gemma4Adapter,
    "smolvlm": SmolVLMAdapter,
    "mllama": MllamaAdapter,
    "mistral3": Mistral3Adapter,
    "llama4": Llama4Adapter,
    "lfm2_vl": Lfm2VlAdapter,
}


def families() -> list[str]:
    """Names of the supported families (the keys of FAMILIES)."""
    return list(FAMILIES)


def _adapters() -> list[type[Adapter]]:
    """Each adapter class once, in registry order."""
    return list(dict.fromkeys(FAMILIES.values()))


def adapter_for_model_type(model_type: str) -> type[Adapter]:
    """The adapter class for a transformers `config.model_type`."""
    for cls in _adapters():
        if model_type in cls.model_types:
            return cls
    supported = ", ".join(f"{a.family} ({'/'.join(a.model_types)})" for a in _adapters())
    raise UnsupportedModelError(
        f"model_type {model_type!r} is not supported. Supported families: {supported}. "
        "To add one, write a small Adapter subclass in shiftdc/models/<family>.py and "
        "register it in FAMILIES in shiftdc/models/families.py (see CONTRIBUTING.md)."
    )


def adapter_for_family(family: str) -> type[Adapter]:
    """The adapter class registered as `family` (UnknownNameError lists the families)."""
    return lookup(FAMILIES, family, "family")


def register_model_types() -> None:
    """Let every adapter make its own model types known to transformers (see
    Adapter.register); load_vlm calls this before it reads a config."""
    for cls in _adapters():
        cls.register()


def check_available(adapter_cls: type[Adapter]) -> None:
    """Raise FamilyUnavailableError when the family's classes or packages are missing here."""
    why = adapter_cls.unavailable()
    if why:
        raise FamilyUnavailableError(why)


class UnsupportedModelError(ShiftDCError, ValueError):
    """The model's architecture has no adapter."""


class FamilyUnavailableError(UnsupportedModelError):
    """The family has an adapter, but this environment lacks a class or package it needs."""
