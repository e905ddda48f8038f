"""LLaVA-NeXT / LLaVA-1.6 family (LlavaNextForConditionalGeneration)."""

from shiftdc.models.adapter import Adapter


class LlavaNextAdapter(Adapter):
    """Any-resolution LLaVA: a variable number of image tokens per image, positions as LLaVA."""

    family = "llava_next"
    model_types = ("llava_next",)
