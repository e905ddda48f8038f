"""Idefics3 and SmolVLM (Idefics3ForConditionalGeneration, SmolVLMForConditionalGeneration;
the decoder is model.text_model).

SmolVLM has Idefics3's layout (a llama-style decoder, images split into tiles plus a global
view, pixel-shuffled, plain positions, causal cache): only the classes differ. Its processor
takes a video processor before its own options and needs `num2words` (a dependency of
shiftdc); without torchvision it is loaded without the video processor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shiftdc.models.adapter import Adapter
from shiftdc.models.processing import video_backend_available, without

if TYPE_CHECKING:
    from transformers import PretrainedConfig, ProcessorMixin


class Idefics3Adapter(Adapter):
    """Idefics3 / SmolVLM: images split into tiles plus a global view, positions as LLaVA."""

    family = "idefics3"
    model_types = ("idefics3",)


class SmolVLMAdapter(Idefics3Adapter):
    family = "smolvlm"
    model_types = ("smolvlm",)
    nested_images = True  # its processor reads a flat list as one prompt's images
    requires = ("transformers.SmolVLMForConditionalGeneration", "num2words")

    @classmethod
    def load_processor(cls, name: str, config: PretrainedConfig, **kwargs: Any) -> ProcessorMixin:
        from transformers import AutoProcessor, SmolVLMProcessor

        if video_backend_available():
            return AutoProcessor.from_pretrained(name, **kwargs)
        return without(SmolVLMProcessor, ("video_processor",)).from_pretrained(name, **kwargs)

    def render(self, prompt: str, with_image: bool, system: str | None = None) -> str:
        """The chat template as ProcessorMixin applies it: SmolVLM's own override only adds
        video defaults, read from a video processor that may not be loaded."""
        from transformers import ProcessorMixin

        messages = self.messages(prompt, with_image, system)
        return ProcessorMixin.apply_chat_template(
            self.processor, messages, add_generation_prompt=True, tokenize=False
        )
