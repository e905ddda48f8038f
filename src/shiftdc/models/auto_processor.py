"""A model type's processor, loaded without its video part where torchvision is missing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shiftdc.models.processing import image_only, video_backend_available

if TYPE_CHECKING:
    from transformers import PretrainedConfig, ProcessorMixin


def processor_class(model_type: str) -> type | None:
    """The processor class transformers registers for `model_type` (None if none)."""
    import transformers
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    name = PROCESSOR_MAPPING_NAMES.get(model_type)
    return getattr(transformers, name, None) if isinstance(name, str) else None


def load_auto_processor(
    name: str | Path, config: PretrainedConfig, **kwargs: Any
) -> ProcessorMixin:
    """AutoProcessor, or (without torchvision) the registered processor class minus its
    video processor, which ShiftDC never uses (images, template and tokenizer are the same)."""
    from transformers import AutoProcessor

    cls = processor_class(config.model_type)
    if video_backend_available() or cls is None or "video_processor" not in _attributes(cls):
        return AutoProcessor.from_pretrained(name, **kwargs)
    return image_only(cls).from_pretrained(name, **kwargs)


def _attributes(cls: type) -> list[str]:
    get = getattr(cls, "get_attributes", None)
    return list(get()) if callable(get) else list(getattr(cls, "attributes", []))
