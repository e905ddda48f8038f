"""Qwen3-VL, Qwen3-VL-MoE and Qwen3.5 (multimodal rotary positions, as Qwen2-VL).

Positions are built as for Qwen2-VL (`get_rope_index`, same inputs, same [4, B, T]
layout). Qwen3-VL also adds "deepstack" vision features to the hidden states of its first
decoder layers, at the image positions only: the last prompt token, where ShiftDC reads
and corrects, is text, and the hooks see each layer's raw output before that addition.

MoE (Qwen3-VL-MoE): the experts sit inside each decoder layer's MLP, so a layer's output
is still one residual stream; ShiftDC reads and corrects it as for a dense model, and the
router sees the corrected stream in the layers after.

Qwen3.5 mixes Gated-DeltaNet (linear attention) layers with full attention. Their
recurrent state cannot be rolled back by a token, so a prompt's cache is not reusable:
`prefix_cache_ok = False`, every pass runs the whole prompt (no KV reuse).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shiftdc.models.adapter import Adapter
from shiftdc.models.qwen2_vl import Qwen2VLAdapter

if TYPE_CHECKING:
    from transformers import PretrainedConfig, ProcessorMixin


class Qwen3VLAdapter(Qwen2VLAdapter):
    family = "qwen3_vl"
    model_types = ("qwen3_vl", "qwen3_vl_moe")

    @classmethod
    def load_processor(cls, name: str, config: PretrainedConfig, **kwargs: Any) -> ProcessorMixin:
        return Adapter.load_processor.__func__(cls, name, config, **kwargs)


class Qwen3_5Adapter(Qwen3VLAdapter):
    family = "qwen3_5"
    model_types = ("qwen3_5",)
    prefix_cache_ok = False
