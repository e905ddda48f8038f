"""Llama 4 (Llama4ForConditionalGeneration): Scout and Maverick.

Image tiles plus a global view, pixel-shuffled into `<|patch|>` tokens between
`<|image_start|>` and `<|image_end|>` (flat list of images, one per prompt). The text
decoder mixes three things a dense LLaVA decoder does not have:

- MoE feed-forward layers (all of Scout's, every other of Maverick's): the router and the
  experts sit inside the decoder layer, so the layer's output is the residual stream as
  for a dense layer. ShiftDC reads and corrects every decoder layer's output, MoE or not,
  as for Qwen3-VL-MoE; routing is left as it is.
- Chunked attention (the RoPE layers, `attention_chunk_size` 8192): a token attends only to
  earlier tokens of its own chunk, chunks counted from each row's first real token (the
  mask accounts for left padding). Their cache is a sliding-window cache of one chunk,
  which `crop` rolls back because the base `prefix_cache` records the past.
- NoPE full-attention layers (every fourth) with attention temperature tuning: queries are
  scaled by a function of the absolute column in the padded batch (transformers derives it
  from the cache length, not from `position_ids`), so both the cached passes and plain
  `generate` see the same scale.

Pixel values: `Llama4ImageProcessor` rescales and normalizes in bfloat16 (as Meta's code
does) and returns bfloat16 whatever the model's dtype; the vision tower does not cast them.
`encode_vl` casts them to the model's dtype (exact: bfloat16 fits in float32), as
`to_device` does on the pipeline's path.

A transformers 5.24 bug, worked around here: `Llama4ForConditionalGeneration.forward`
builds its output from `outputs.image_outputs` of the language model's output, a
`MoeCausalLMOutputWithPast`, which has no such field, so every forward with `return_dict`
(and so every `generate`) raises AttributeError. The adapter adds a forward hook on the
language model that sets `image_outputs = None` on that output when it lacks the field
(it only fills a field the wrapper copies into its own output; nothing ShiftDC reads or
the model computes changes), and does nothing once transformers fixes it.

Layers: `get_decoder()` returns the causal LM wrapper here (its `base_model_prefix` names
no attribute of it), so `decoder_layers` takes the text model's layers directly.

KV reuse: yes. Every layer's cache is causal (the image attends causally too), so the cache
of prompt[:-1] is a prefix of the full prompt's.

Requires torchvision: Llama 4's only image processor is a torchvision one
(`Llama4ImageProcessor`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PIL import Image
from torch import nn

from shiftdc.models.adapter import Adapter, Inputs

if TYPE_CHECKING:
    from transformers import ProcessorMixin


def _add_image_outputs(module: nn.Module, args: Any, output: Any) -> Any:
    """The language model's output with the `image_outputs` field the wrapper reads."""
    from transformers.utils import ModelOutput

    if isinstance(output, ModelOutput) and not hasattr(output, "image_outputs"):
        output.image_outputs = None
    return output


class Llama4Adapter(Adapter):
    family = "llama4"
    model_types = ("llama4",)
    requires = ("transformers.Llama4ForConditionalGeneration", "torchvision")

    def __init__(self, model: nn.Module, processor: ProcessorMixin) -> None:
        super().__init__(model, processor)
        lm = model.language_model
        if not getattr(lm, "_shiftdc_image_outputs_hook", False):
            lm.register_forward_hook(_add_image_outputs)
            lm._shiftdc_image_outputs_hook = True

    def decoder_layers(self) -> nn.ModuleList:
        """The text model's decoder layers (dense and MoE alike), in order."""
        return self.model.language_model.model.layers

    def encode_vl(
        self, prompts: list[str], images: list[Image.Image], system: str | None = None
    ) -> Inputs:
        """As the base class, with the (bfloat16) `pixel_values` in the model's dtype."""
        inputs = super().encode_vl(prompts, images, system)
        inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        return inputs
