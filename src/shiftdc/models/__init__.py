"""Model loading, family adapters and activation hooks."""

from shiftdc.models.loading import VLM, load_vlm
from shiftdc.models.registry import UnsupportedModelError, families

__all__ = ["VLM", "UnsupportedModelError", "families", "load_vlm"]
