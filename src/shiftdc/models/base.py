"""Adapter interface: the only place that knows how a VLM family is laid out."""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import torch
from PIL import Image
from torch import nn


class Adapter:
    """Family knowledge: where the text decoder layers are and how prompts are built.

    Subclasses set `family` and `model_types` (config.model_type values) and override
    what differs from these defaults, which fit LLaVA-style models.
    """

    family: ClassVar[str] = ""
    model_types: ClassVar[tuple[str, ...]] = ()
    #: the image precedes the text in the rendered prompt (so prompts can share its KV cache)
    image_first: ClassVar[bool] = True
    #: the KV cache of prompt[:-1] equals the first n-1 entries of the cache of prompt
    #: (false for prefix-LM attention, where the last prompt token changes earlier ones)
    prefix_cache_ok: ClassVar[bool] = True

    def __init__(self, model: nn.Module, processor: Any) -> None:
        self.model = model
        self.processor = processor

    @classmethod
    def load_processor(cls, name: str, config: Any, **kwargs: Any) -> Any:
        """The checkpoint's processor (AutoProcessor unless the family needs otherwise)."""
        from transformers import AutoProcessor

        return AutoProcessor.from_pretrained(name, **kwargs)

    # --- architecture -------------------------------------------------------------
    def decoder_layers(self) -> nn.ModuleList:
        """The text decoder's layers, in order."""
        return self.model.get_decoder().layers

    def text_config(self) -> Any:
        return self.model.config.get_text_config()

    # --- prompts ------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        return self.processor.tokenizer

    def messages(self, prompt: str, with_image: bool, system: str | None = None) -> list[dict]:
        """Chat messages for one turn; the image (if any) comes before the text."""
        content: list[dict] = []
        if with_image:
            content.append({"type": "image"})
        content.append({"type": "text", "text": prompt})
        msgs: list[dict] = []
        if system:
            msgs.append({"role": "system", "content": [{"type": "text", "text": system}]})
        msgs.append({"role": "user", "content": content})
        return msgs

    def render(self, prompt: str, with_image: bool, system: str | None = None) -> str:
        """The prompt string, through the processor's own chat template."""
        return self.processor.apply_chat_template(
            self.messages(prompt, with_image, system), add_generation_prompt=True, tokenize=False
        )

    def encode_vl(
        self, prompts: list[str], images: list[Image.Image], system: str | None = None
    ) -> dict[str, torch.Tensor]:
        """Batched, left-padded vision+text inputs."""
        texts = [self.render(p, True, system) for p in prompts]
        batch = self.processor_images(images)
        return dict(self.processor(text=texts, images=batch, padding=True, return_tensors="pt"))

    def processor_images(self, images: list[Image.Image]) -> list:
        """Images laid out as the processor expects for one image per prompt (flat by default)."""
        return list(images)

    def encode_text(self, prompts: list[str], system: str | None = None) -> dict[str, torch.Tensor]:
        """Batched, left-padded text-only inputs."""
        texts = [self.render(p, False, system) for p in prompts]
        return dict(
            self.tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
        )

    # --- positions -----------------------------------------------------------------
    def position_ids(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """Position ids for one full forward of `inputs`, as `generate` derives them.

        The default is the left-padded text layout (`attention_mask.cumsum(-1) - 1`).
        Families with their own scheme override it (Qwen2-VL returns its multimodal RoPE
        ids); None would mean "let the model derive them". The sequence is the last dim.
        """
        mask = inputs["attention_mask"]
        return (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)

    # --- KV-prefix reuse ----------------------------------------------------------------
    # Paper mode runs a prompt once without its last token into a cache, then the last
    # token twice on that cache: once unsteered to read activations (`last_forward_kwargs`),
    # then, after `cache.crop(-1)`, inside `generate` with the corrections
    # (`cached_generate_kwargs`, no pixel values: the image already lives in the cache):
    #
    #     cache = model(**adapter.prefix_forward_kwargs(inputs), use_cache=True).cache
    #     with read_last(layers, idx) as acts:
    #         model(**adapter.last_forward_kwargs(inputs), cache=cache, use_cache=True)
    #     cache.crop(-1)
    #     model.generate(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
    #                    cache=cache, **adapter.cached_generate_kwargs(inputs), ...)
    #
    # Each method returns explicit positions, so no hidden model state (such as Qwen2-VL's
    # `rope_deltas`) has to survive between the calls. Only valid when `prefix_cache_ok`.

    #: inputs that run along the sequence (sliced with it); everything else is passed whole
    SEQUENCE_KEYS: ClassVar[tuple[str, ...]] = (
        "input_ids",
        "attention_mask",
        "token_type_ids",
        "mm_token_type_ids",
    )

    def prefix_cache(self) -> Any:
        """A fresh KV cache for the prefix pass that `crop(-1)` can roll back afterwards.

        Sliding-window layers (Gemma 3) keep only their window and then refuse `crop`;
        recording the past makes them keep their states until the next crop.
        """
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        if hasattr(cache, "activate_past_recording"):
            cache.activate_past_recording()
        return cache

    def prefix_forward_kwargs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Model kwargs for the forward of prompt[:, :-1] (with the image inputs).

        They include a fresh `prefix_cache()` (under the model's cache argument name); the
        forward returns it filled.
        """
        params = inspect.signature(self.model.forward).parameters
        out = dict(inputs)
        out["cache" if "cache" in params else "past_key_values"] = self.prefix_cache()
        for key in self.SEQUENCE_KEYS:
            if key in out:
                out[key] = out[key][..., :-1]
        pos = self.position_ids(inputs)
        if pos is not None:
            out["position_ids"] = pos[..., :-1]
        return out

    def last_forward_kwargs(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Model kwargs for the forward of the last prompt token on the prefix cache."""
        out = {"input_ids": inputs["input_ids"][:, -1:], "attention_mask": inputs["attention_mask"]}
        for key in self.SEQUENCE_KEYS:
            if key in inputs and key not in out:
                out[key] = inputs[key][..., -1:]
        pos = self.position_ids(inputs)
        if pos is not None:
            out["position_ids"] = pos[..., -1:]
        return out

    def cached_generate_kwargs(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Extra `generate` kwargs (beside full ids, mask and cache) to continue from the cache."""
        pos = self.position_ids(inputs)
        return {} if pos is None else {"position_ids": pos}
