"""LFM2-VL (Lfm2VlForConditionalGeneration): Liquid AI's LFM2 decoder with a SigLIP2 tower.

Images are split into tiles plus a thumbnail (large images) or kept whole (small ones),
each tile's `<image>` tokens after an `<|img_row_R_col_C|>` marker, all between
`<|image_start|>` and `<|image_end|>`; one image per prompt as a nested list. The decoder
mixes gated short-convolution layers (`conv`) with attention layers; ShiftDC reads and
corrects every decoder layer's output (the residual stream), of either kind.

KV reuse: yes. A short-convolution layer caches only its last `conv_L_cache` inputs (no
recurrent state), and with past recording on (the base `prefix_cache`) it keeps all of them
until `crop`, which then rolls it back by a token exactly as an attention layer's cache.
(Qwen3.5's linear-attention layers keep a recurrent state, which cannot be rolled back.)

Requires torchvision: LFM2-VL's only image processor is a torchvision one
(`Lfm2VlImageProcessor`).
"""

from __future__ import annotations

from shiftdc.models.adapter import Adapter


class Lfm2VlAdapter(Adapter):
    family = "lfm2_vl"
    model_types = ("lfm2_vl",)
    nested_images = True
    requires = ("transformers.Lfm2VlForConditionalGeneration", "torchvision")
