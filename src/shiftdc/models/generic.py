"""The generic adapter: image-text-to-text models that no family adapter knows.

A model gets it when transformers loads it as an image-text-to-text model, its processor
has a chat template, it is not an encoder-decoder, and its text decoder layers can be
found. It assumes nothing it cannot see: every pass runs the whole prompt with positions
derived by the model itself, and `generate` starts from scratch (no KV-cache reuse, no
shared image prefix), which is correct for any decoder, only slower. It warns once per
model type that the family is unverified; `shiftdc check --model M` verifies it.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from torch import nn

from shiftdc.models.adapter import Adapter, Inputs
from shiftdc.models.families import UnsupportedModelError

if TYPE_CHECKING:
    from transformers import PretrainedConfig, ProcessorMixin

_warned: set[str] = set()


def find_decoder_layers(model: nn.Module) -> nn.ModuleList | None:
    """The text decoder's layers: `get_decoder().layers`, else the one ModuleList as long as
    the text config's `num_hidden_layers` under a language-model module (None if not found)."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    layers = getattr(decoder, "layers", None)
    if isinstance(layers, nn.ModuleList) and len(layers):
        return layers
    n = getattr(model.config.get_text_config(), "num_hidden_layers", None)
    found = [
        module
        for name, module in model.named_modules()
        if isinstance(module, nn.ModuleList)
        and len(module) == n
        and any(part in name for part in ("language_model", "text_model", "decoder"))
    ]
    return found[0] if len(found) == 1 else None


def check_generic_config(config: PretrainedConfig) -> None:
    """Raise UnsupportedModelError (one line, saying why) unless the generic adapter may try."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    kind = config.model_type
    if getattr(config, "is_encoder_decoder", False):
        raise UnsupportedModelError(
            f"model_type {kind!r} is not supported: it is an encoder-decoder model, and "
            "ShiftDC corrects the layers of a decoder-only text stream"
        )
    if kind not in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
        raise UnsupportedModelError(
            f"model_type {kind!r} is not supported: transformers does not load it as an "
            "image-text-to-text model (AutoModelForImageTextToText); pass a vision-language "
            "model, or add an adapter (see CONTRIBUTING.md)"
        )


class GenericAdapter(Adapter):
    """Any image-text-to-text decoder with a chat template: whole-prompt passes only."""

    family = "generic"
    model_types = ()
    nested_images = True  # the layout every processor reads as one image per prompt
    image_first = False  # not assumed: the prompt is never split at the image
    prefix_cache_ok = False  # not assumed: every pass runs the whole prompt

    def __init__(self, model: nn.Module, processor: ProcessorMixin) -> None:
        super().__init__(model, processor)
        kind = model.config.model_type
        if not getattr(processor, "chat_template", None):
            raise UnsupportedModelError(
                f"model_type {kind!r} is not supported: its processor has no chat template, "
                "so ShiftDC cannot build its prompts; save one with the checkpoint "
                "(processor.chat_template) or add an adapter"
            )
        self._layers = find_decoder_layers(model)
        if self._layers is None:
            raise UnsupportedModelError(
                f"model_type {kind!r} is not supported: its text decoder layers could not be "
                "found (no get_decoder().layers and no single layer list of "
                "num_hidden_layers); add an adapter that names them"
            )
        if kind not in _warned:
            _warned.add(kind)
            warnings.warn(
                f"model_type {kind!r} has no dedicated adapter: running it through the "
                "generic one (whole-prompt passes, no KV reuse). This family is unverified; "
                "run `shiftdc check --model ...` to verify it",
                UserWarning,
                stacklevel=2,
            )

    def decoder_layers(self) -> nn.ModuleList:
        return self._layers

    def position_ids(self, inputs: Inputs) -> None:
        """None: the model derives its own positions (text or multimodal) in every pass."""
        return None


def adapter_for_config(config: PretrainedConfig) -> type[Adapter]:
    """The family adapter for `config.model_type`, else the generic one where it may serve
    (UnsupportedModelError, saying why, where it may not)."""
    from shiftdc.models.families import adapter_for_model_type, families

    try:
        return adapter_for_model_type(config.model_type)
    except UnsupportedModelError:
        try:
            check_generic_config(config)
        except UnsupportedModelError as why:
            known = ", ".join(families())
            raise UnsupportedModelError(f"{why} (families with an adapter: {known})") from None
    return GenericAdapter
