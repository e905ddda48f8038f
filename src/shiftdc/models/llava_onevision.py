"""LLaVA-OneVision (LlavaOnevisionForConditionalGeneration)."""

from shiftdc.models.adapter import Adapter


class LlavaOnevisionAdapter(Adapter):
    """Any-resolution LLaVA on a Qwen2 decoder: plain positions, image first, causal cache."""

    family = "llava_onevision"
    model_types = ("llava_onevision",)
    nested_images = True
