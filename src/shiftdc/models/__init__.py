"""Model loading, family adapters and activation hooks."""

from shiftdc.models.families import UnsupportedModelError, families
from shiftdc.models.loading import VLM, load_vlm

__all__ = ["VLM", "UnsupportedModelError", "families", "load_vlm"]
