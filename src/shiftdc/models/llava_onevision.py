"""LLaVA-OneVision (LlavaOnevisionForConditionalGeneration)."""

from PIL import Image

from shiftdc.models.adapter import Adapter


class LlavaOnevisionAdapter(Adapter):
    """Any-resolution LLaVA on a Qwen2 decoder: plain positions, image first, causal cache."""

    family = "llava_onevision"
    model_types = ("llava_onevision",)

    def processor_images(self, images: list[Image.Image]) -> list:
        """A nested list, one per prompt."""
        return [[im] for im in images]
