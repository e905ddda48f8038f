"""Mistral Small 3.x (Mistral3ForConditionalGeneration, Pixtral-style images).

A Pixtral vision tower (2D RoPE, any resolution), its patches merged 2x2 by the projector,
and a Mistral decoder. The processor (`PixtralProcessor`) expands the image into rows of
`[IMG]` tokens, each row ending with `[IMG_BREAK]` and the image with `[IMG_END]`; the model
passes `image_sizes` so each image is cut back from the batch's padded `pixel_values`.
Plain positions, image first, a causal cache: KV reuse as LLaVA.

Requires torchvision: transformers declares `PixtralProcessor` `requires(torchvision)`,
so it cannot be built without it.
"""

from __future__ import annotations

from shiftdc.models.adapter import Adapter


class Mistral3Adapter(Adapter):
    family = "mistral3"
    model_types = ("mistral3",)
    requires = ("transformers.Mistral3ForConditionalGeneration", "torchvision")
