"""Adapter interface: the only place that knows how a VLM family is laid out."""

from __future__ import annotations

import inspect
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from PIL import Image
from torch import nn

if TYPE_CHECKING:
    from transformers import Cache, PretrainedConfig, PreTrainedTokenizerBase, ProcessorMixin

#: a processor's output: model inputs by name, batch first
Inputs = dict[str, torch.Tensor]


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
    #: what the family needs beyond shiftdc's own dependencies: transformers classes
    #: ("transformers.Gemma4ForConditionalGeneration") or importable modules ("num2words")
    requires: ClassVar[tuple[str, ...]] = ()
    #: the processor takes one list of images per prompt (a flat list would be read as one
    #: prompt's images); else a flat list, one image per prompt
    nested_images: ClassVar[bool] = False

    def __init__(self, model: nn.Module, processor: ProcessorMixin) -> None:
        self.model = model
        self.processor = processor

    @classmethod
    def unavailable(cls) -> str | None:
        """Why the family cannot run in this environment (None when it can)."""
        import importlib.util

        import transformers

        missing = []
        for need in cls.requires:
            if need.startswith("transformers."):
                if not hasattr(transformers, need.removeprefix("transformers.")):
                    missing.append(f"{need} (transformers {transformers.__version__})")
            elif importlib.util.find_spec(need) is None:
                missing.append(f"the package {need!r} (pip install {need})")
        if not missing:
            return None
        return f"family {cls.family!r} is unavailable here: it needs {', '.join(missing)}"

    @classmethod
    def register(cls) -> None:
        """Make the family's model types that transformers does not ship known to its Auto
        classes, before a config is read (default: none)."""

    @classmethod
    def load_processor(cls, name: str, config: PretrainedConfig, **kwargs: Any) -> ProcessorMixin:
        """The checkpoint's processor (AutoProcessor, minus a video part without torchvision)."""
        from shiftdc.models.auto_processor import load_auto_processor

        return load_auto_processor(name, config, **kwargs)

    # --- architecture -------------------------------------------------------------
    def decoder_layers(self) -> nn.ModuleList:
        """The text decoder's layers, in order."""
        return self.model.get_decoder().layers

    def text_config(self) -> PretrainedConfig:
        return self.model.config.get_text_config()

    # --- prompts ------------------------------------------------------------------
    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
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
    ) -> Inputs:
        """Batched, left-padded vision+text inputs."""
        texts = [self.render(p, True, system) for p in prompts]
        batch = self.processor_images(images)
        return dict(self.processor(text=texts, images=batch, padding=True, return_tensors="pt"))

    def processor_images(self, images: list[Image.Image]) -> list:
        """Images laid out as the processor expects for one image per prompt."""
        return [[im] for im in images] if self.nested_images else list(images)

    def encode_text(self, prompts: list[str], system: str | None = None) -> Inputs:
        """Batched, left-padded text-only inputs."""
        texts = [self.render(p, False, system) for p in prompts]
        return dict(
            self.tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
        )

    # --- positions -----------------------------------------------------------------
    def position_ids(self, inputs: Inputs) -> torch.Tensor | None:
        """Position ids for one full forward of `inputs`, as `generate` derives them.

        The default is the left-padded text layout (`attention_mask.cumsum(-1) - 1`).
        Families with their own scheme override it (Qwen2-VL returns its multimodal RoPE
        ids); None would mean "let the model derive them". The sequence is the last dim.
        """
        mask = inputs["attention_mask"]
        return (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)

    # --- the passes the pipeline runs ---------------------------------------------------
    # `forward_kwargs` builds every forward pass, `generate_kwargs` every `generate` call:
    #
    #     cache = adapter.prefix_cache()
    #     model(**adapter.forward_kwargs(inputs, cache=cache))     # whole prompt; read last token
    #     cache.crop(-1)                                            # drop that token again
    #     model.generate(**adapter.generate_kwargs(inputs, cache))  # re-runs it, with corrections
    #
    # A shared image prefix runs `forward_kwargs(inputs, 0, n, cache)` (with the image) and
    # later `forward_kwargs(inputs, n, None, cache)` (text only) on the same cache.
    # Positions are always explicit, so no hidden model state (such as Qwen2-VL's
    # `rope_deltas`) has to survive between calls. A cache is only valid when `prefix_cache_ok`.

    #: inputs that run along the sequence (sliced with it); everything else is passed whole
    SEQUENCE_KEYS: ClassVar[tuple[str, ...]] = (
        "input_ids",
        "attention_mask",
        "token_type_ids",
        "mm_token_type_ids",
    )

    @cached_property
    def cache_arg(self) -> str:
        """Name of the model's KV-cache argument: `cache` in newer transformers, else
        `past_key_values`."""
        params = inspect.signature(self.model.forward).parameters
        return "cache" if "cache" in params else "past_key_values"

    def prefix_cache(self) -> Cache:
        """A fresh KV cache that `crop` can roll back after the passes that fill it.

        Sliding-window layers (Gemma 3) keep only their window and then refuse `crop`;
        recording the past makes them keep their states until the next crop.
        """
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        if hasattr(cache, "activate_past_recording"):
            cache.activate_past_recording()
        return cache

    def forward_kwargs(
        self,
        inputs: Inputs,
        start: int = 0,
        stop: int | None = None,
        cache: Cache | None = None,
    ) -> dict[str, Any]:
        """Model kwargs for prompt columns [start, stop) of `inputs`, on a `cache` holding
        [0, start) (or no cache: a plain pass of the whole prompt).

        The image inputs go with the pass that starts at 0; the mask covers [0, stop);
        positions are those of the whole prompt. With a cache, it is filled in place.
        """
        stop = inputs["input_ids"].shape[-1] if stop is None else stop
        seq = [k for k in self.SEQUENCE_KEYS if k in inputs]
        out = {} if start else {k: v for k, v in inputs.items() if k not in seq}
        for key in seq:
            out[key] = (
                inputs[key][..., :stop] if key == "attention_mask" else inputs[key][..., start:stop]
            )
        pos = self.position_ids(inputs)
        if pos is not None:
            out["position_ids"] = pos[..., start:stop]
        if cache is not None:
            out[self.cache_arg] = cache
            out["use_cache"] = True
        return out

    def generate_kwargs(self, inputs: Inputs, cache: Cache | None = None) -> dict[str, Any]:
        """`generate` kwargs for `inputs`: from scratch, or continuing on a `cache` that holds
        every prompt token but the last (no image inputs: the image lives in the cache)."""
        if cache is None:
            return dict(inputs)
        if not self.prefix_cache_ok:
            raise ValueError(f"{self.family}: a prompt's KV cache cannot be reused (prefix-LM)")
        out = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
        pos = self.position_ids(inputs)
        if pos is not None:
            out["position_ids"] = pos
        out[self.cache_arg] = cache
        return out
