"""GLM-4.1V (Glm4vForConditionalGeneration).

Multimodal rotary positions from `get_rope_index`, with the same inputs and [4, B, T]
layout as Qwen2-VL, so positions are built by the Qwen2-VL adapter's code. The MoE variant
(glm4v_moe, GLM-4.5V) has no tiny checkpoint here, so it runs through the generic adapter.
"""

from __future__ import annotations

from shiftdc.models.qwen3_vl import Qwen3VLAdapter


class Glm4vAdapter(Qwen3VLAdapter):
    family = "glm4v"
    model_types = ("glm4v",)
