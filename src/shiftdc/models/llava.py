"""LLaVA-1.5 family (LlavaForConditionalGeneration)."""

from shiftdc.models.adapter import Adapter


class LlavaAdapter(Adapter):
    family = "llava"
    model_types = ("llava",)
