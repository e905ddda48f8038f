"""Idefics3 and SmolVLM (Idefics3ForConditionalGeneration; the decoder is model.text_model)."""

from shiftdc.models.adapter import Adapter


class Idefics3Adapter(Adapter):
    """Idefics3 / SmolVLM: images split into tiles plus a global view, positions as LLaVA."""

    family = "idefics3"
    model_types = ("idefics3",)
