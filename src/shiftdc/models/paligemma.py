"""PaliGemma and PaliGemma 2 (PaliGemmaForConditionalGeneration)."""

from __future__ import annotations

import torch
from PIL import Image

from shiftdc.models.adapter import Adapter, Inputs


class PaliGemmaAdapter(Adapter):
    """PaliGemma / PaliGemma 2: a prefix-LM (the whole prompt attends bidirectionally).

    The KV cache of prompt[:-1] is not a prefix of the full prompt's cache: with
    bidirectional attention every earlier prompt token also attends to the last one,
    so its keys and values change when the last token is added (measured on the tiny
    checkpoint: last-token outputs of layers 1-3 differ by up to 5e-4 at a scale of 0.25,
    against 1e-8 for causal families). Hence `prefix_cache_ok = False`: every pass runs the
    whole prompt, and `generate` starts from scratch.

    Released checkpoints ship no chat template: their prompts are bare task strings
    ("answer en ..."), so without one `render` gives `<image>` + the prompt; the processor
    itself adds `<bos>` after the image tokens and a closing newline. Text-only prompts
    follow the same layout minus the image. Positions are 1-indexed, as in the model.
    """

    family = "paligemma"
    model_types = ("paligemma",)
    prefix_cache_ok = False

    def render(self, prompt: str, with_image: bool, system: str | None = None) -> str:
        """Through the chat template if the processor has one, else the bare task prompt."""
        if getattr(self.processor, "chat_template", None):
            return super().render(prompt, with_image, system)
        text = f"{system}\n{prompt}" if system else prompt
        return f"{self.processor.image_token}{text}" if with_image else text

    def encode_vl(
        self, prompts: list[str], images: list[Image.Image], system: str | None = None
    ) -> Inputs:
        """As the base class, minus the training `labels` the processor adds."""
        inputs = super().encode_vl(prompts, images, system)
        inputs.pop("labels", None)
        return inputs

    def encode_text(self, prompts: list[str], system: str | None = None) -> Inputs:
        """`<bos>` + prompt + newline, all in the bidirectional prefix (token_type_ids 0)."""
        tok = self.tokenizer
        texts = [f"{tok.bos_token}{self.render(p, False, system)}\n" for p in prompts]
        enc = tok(
            texts,
            padding=True,
            return_tensors="pt",
            add_special_tokens=False,
            return_token_type_ids=True,
        )
        return dict(enc)

    def position_ids(self, inputs: Inputs) -> torch.Tensor | None:
        """1-indexed positions, as PaliGemma's forward and `generate` use."""
        return super().position_ids(inputs) + 1
