"""Gemma 3 (Gemma3ForConditionalGeneration)."""

from shiftdc.models.adapter import Adapter


class Gemma3Adapter(Adapter):
    """Gemma 3: image tokens attend to each other bidirectionally; sliding-window layers.

    The bidirectional block covers only the image tokens, which all precede the last
    prompt token, so the KV cache of prompt[:-1] is a prefix of the full prompt's.
    """

    family = "gemma3"
    model_types = ("gemma3",)
    nested_images = True
