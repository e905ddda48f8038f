"""Model loading, family adapters and activation hooks.

Modules:
  adapter.py      the Adapter interface: the only place that knows a family's layout
  auto_processor.py  a model type's processor, without its video part where torchvision is missing
  context.py      prompts that do not fit the model's context: refused or truncated
  dispatch.py     models larger than one GPU: accelerate's device_map, offload-aware reads
  families.py     FAMILIES: family name or model_type -> adapter class
  fastpath.py     a request's caption and answer prompts continuing one image-prefix KV cache
  gemma3.py       Gemma 3
  gemma4.py       Gemma 4
  generation.py   batched activation reading and plain (uncalibrated) generation
  generic.py      the generic adapter: image-text-to-text models no family adapter knows
  glm4v.py        GLM-4.1V
  hooks.py        forward hooks on decoder layers: read and patch activations
  idefics3.py     Idefics3 and SmolVLM
  internvl.py     InternVL 3.x (transformers-native checkpoints)
  lfm2_vl.py      LFM2-VL (short-convolution and attention layers; needs torchvision)
  llama4.py       Llama 4 Scout and Maverick (MoE, chunked attention; needs torchvision)
  llava.py        LLaVA-1.5
  llava_next.py   LLaVA-NeXT / LLaVA-1.6
  llava_onevision.py  LLaVA-OneVision
  loading.py      load_vlm: hub id or local path -> VLM (model + processor + adapter)
  mistral3.py     Mistral Small 3.x (Pixtral-style images; needs torchvision)
  mllama.py       Llama 3.2 Vision (cross-attention layers)
  paligemma.py    PaliGemma and PaliGemma 2
  processing.py   processor loading for families whose processors transformers ties to video
  qwen2_vl.py     Qwen2-VL and Qwen2.5-VL
  qwen3_vl.py     Qwen3-VL, Qwen3-VL-MoE and Qwen3.5
  tiny.py         BUILDERS: tiny random checkpoints, one builder per family
  tiny_common.py  shared pieces of tiny checkpoints: word-level tokenizer, chat template
  tiny_recent.py  tiny checkpoints of the recent families (Qwen3-VL, InternVL, ...)
"""

from shiftdc.models.families import UnsupportedModelError, families
from shiftdc.models.loading import VLM, load_vlm

__all__ = ["VLM", "UnsupportedModelError", "families", "load_vlm"]
