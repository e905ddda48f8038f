"""Gemma 4 (Gemma4ForConditionalGeneration).

Laid out as Gemma 3 (image soft tokens between begin/end-of-image markers, sliding-window
and full-attention layers, plain positions, one image per prompt as a nested list), with
three differences that matter here:

- Per-layer embeddings (the small "E" checkpoints): each decoder layer adds a token-indexed
  embedding to its output. ShiftDC reads and corrects the layer's output, after that
  addition: it is the residual stream the next layer receives.
- Shared KV (`num_kv_shared_layers`): the last layers reuse earlier layers' keys and values
  and keep no cache of their own, so cropping the cache rolls them back too.
- Bidirectional image attention (`use_bidirectional_attention="vision"`, the larger
  checkpoints): as in Gemma 3 it covers the image tokens only, which all precede the last
  prompt token, so the KV cache of prompt[:-1] is a prefix of the full prompt's (KV reuse).

The processor takes an audio feature extractor and a video processor; ShiftDC uses neither,
and the video one needs torchvision, so without torchvision it is loaded without both
(`processing.without`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shiftdc.models.adapter import Adapter
from shiftdc.models.processing import video_backend_available, without

if TYPE_CHECKING:
    from transformers import PretrainedConfig, ProcessorMixin


class Gemma4Adapter(Adapter):
    family = "gemma4"
    model_types = ("gemma4",)
    nested_images = True
    requires = ("transformers.Gemma4ForConditionalGeneration",)

    @classmethod
    def load_processor(cls, name: str, config: PretrainedConfig, **kwargs: Any) -> ProcessorMixin:
        from transformers import AutoProcessor, Gemma4Processor

        if video_backend_available():
            return AutoProcessor.from_pretrained(name, **kwargs)
        return without(Gemma4Processor).from_pretrained(name, **kwargs)
