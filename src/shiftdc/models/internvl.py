"""InternVL 3.x (InternVLForConditionalGeneration, the transformers-native checkpoints)."""

from shiftdc.models.adapter import Adapter


class InternVLAdapter(Adapter):
    """InternVL: image tiles plus a thumbnail, pixel-shuffled, between `<img>` markers;
    plain positions, image first, causal cache (KV reuse as LLaVA)."""

    family = "internvl"
    model_types = ("internvl",)
    nested_images = True
