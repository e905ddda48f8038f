"""Qwen2-VL and Qwen2.5-VL (multimodal rotary positions)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from shiftdc.models.adapter import Adapter, Inputs
from shiftdc.models.processing import load_processor

if TYPE_CHECKING:
    from transformers import PretrainedConfig, ProcessorMixin

#: inputs that the model's `get_rope_index` reads
_ROPE_KEYS = (
    "mm_token_type_ids",
    "image_grid_thw",
    "video_grid_thw",
    "second_per_grid_ts",
    "attention_mask",
)


class Qwen2VLAdapter(Adapter):
    """Qwen2-VL / Qwen2.5-VL: image tokens get 3D (time, height, width) RoPE positions.

    `generate` derives these itself and keeps a `rope_deltas` offset on the model between
    calls; that state is overwritten by any other forward (a text-only pass, a caption).
    So `position_ids` here computes them explicitly for image inputs, in the same
    [4, B, T] layout `generate` uses (the text positions, then the three M-RoPE rows),
    and every pass the adapter builds carries them; no model state is relied upon.

    Its processor takes a video processor, which transformers builds only with torchvision;
    without torchvision the processor is loaded without it (images work the same).
    """

    family = "qwen2_vl"
    model_types = ("qwen2_vl", "qwen2_5_vl")

    @classmethod
    def load_processor(cls, name: str, config: PretrainedConfig, **kwargs: Any) -> ProcessorMixin:
        """The Qwen2(.5)-VL processor, without its video part when torchvision is missing."""
        from transformers import Qwen2_5_VLProcessor, Qwen2VLProcessor

        proc_cls = Qwen2_5_VLProcessor if config.model_type == "qwen2_5_vl" else Qwen2VLProcessor
        return load_processor(name, proc_cls, **kwargs)

    def position_ids(self, inputs: Inputs) -> torch.Tensor | None:
        """Text positions ([B, T]) for text-only inputs; [4, B, T] M-RoPE positions with images."""
        text = super().position_ids(inputs)
        if inputs.get("image_grid_thw") is None and inputs.get("video_grid_thw") is None:
            return text
        if inputs.get("mm_token_type_ids") is None:
            raise ValueError(
                "Qwen2-VL image inputs need `mm_token_type_ids` to place the image tokens; "
                "build inputs with the model's processor (adapter.encode_vl)"
            )
        kwargs = {k: inputs[k] for k in _ROPE_KEYS if inputs.get(k) is not None}
        vision, _ = self.model.model.get_rope_index(inputs["input_ids"], **kwargs)
        return torch.cat([text[None].to(vision), vision], dim=0)
