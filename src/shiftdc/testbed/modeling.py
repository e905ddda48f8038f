"""The testbed's model class: a LLaVA whose image tokens also carry what it reads.

Each image becomes the projector's visual tokens followed by `reader_slots` tokens that hold
the character reader's reading of the model's own `pixel_values`, as the backbone's BPE
token embeddings (left-filled with the space token's). The text comes from the pixels and
nowhere else: the prompt is untouched, and text-only prompts run exactly as in plain LLaVA.

`register()` makes the model type known to transformers' Auto classes, so `load_vlm` (and
`AutoModelForImageTextToText`) open a built testbed like any checkpoint; the LLaVA adapter
serves it (`shiftdc.models.llava`).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

import torch
from torch import nn
from transformers import LlavaConfig, LlavaForConditionalGeneration, LlavaModel
from transformers.models.llava.modeling_llava import LlavaPreTrainedModel

from shiftdc.testbed.char_reader import CharReader, greedy_decode, ink

MODEL_TYPE: Final = "shiftdc_testbed"


class TestbedConfig(LlavaConfig):
    """LlavaConfig plus the reading part: how many tokens carry the reading, the token that
    fills them, and the image normalisation to undo before reading."""

    model_type = MODEL_TYPE
    reader_slots: int = 32
    reader_fill_token_id: int = 0
    reader_image_mean: list[float] | None = None
    reader_image_std: list[float] | None = None


class TestbedModel(LlavaModel):
    """LlavaModel with a `char_reader`; `reading_tokenizer` (set when loaded) turns a reading
    into the backbone's token ids."""

    config_class = TestbedConfig

    def __init__(self, config: TestbedConfig) -> None:
        super().__init__(config)
        self.char_reader = CharReader()
        self.reading_tokenizer: Any = None
        self.post_init()

    def read(self, pixel_values: torch.Tensor) -> list[str]:
        """What the reader reads in each image of a batch of the processor's pixels."""
        cfg = self.config
        weight = next(self.char_reader.parameters())
        x = ink(pixel_values.float(), cfg.reader_image_mean, cfg.reader_image_std)
        with torch.no_grad():
            logits = self.char_reader(x.to(weight.device, weight.dtype))
        return [greedy_decode(row) for row in logits.argmax(-1).tolist()]

    def reading_ids(self, text: str) -> list[int]:
        """`text` as exactly `reader_slots` token ids (cut at the end, filled on the left);
        an empty reading is all fill."""
        if self.reading_tokenizer is None:
            raise RuntimeError(
                "the testbed model has no reading tokenizer; load it with "
                "TestbedForConditionalGeneration.from_pretrained (or shiftdc's load_vlm)"
            )
        slots = self.config.reader_slots
        if not text:
            return [self.config.reader_fill_token_id] * slots
        ids = self.reading_tokenizer(" " + text, add_special_tokens=False)["input_ids"][:slots]
        return [self.config.reader_fill_token_id] * (slots - len(ids)) + ids

    def get_image_features(self, pixel_values: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        out = super().get_image_features(pixel_values, *args, **kwargs)
        embed = self.get_input_embeddings()
        feats = []
        for visual, text in zip(out.pooler_output, self.read(pixel_values), strict=True):
            ids = torch.tensor(self.reading_ids(text), device=visual.device)
            feats.append(torch.cat([visual, embed(ids).to(visual.dtype)], dim=0))
        out.pooler_output = feats
        return out


class TestbedForConditionalGeneration(LlavaForConditionalGeneration):
    """The testbed VLM (see the module docstring)."""

    config_class = TestbedConfig

    def __init__(self, config: TestbedConfig) -> None:
        LlavaPreTrainedModel.__init__(self, config)  # not Llava's __init__: no LlavaModel built
        self.model = TestbedModel(config)
        text = config.get_text_config()
        self.lm_head = nn.Linear(text.hidden_size, text.vocab_size, bias=False)
        self.post_init()

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, *args: Any, **kwargs: Any):
        """Load the weights, then the checkpoint's tokenizer for the reading tokens."""
        from transformers import AutoTokenizer

        model = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        hub = ("revision", "token", "cache_dir", "local_files_only", "subfolder")
        model.model.reading_tokenizer = AutoTokenizer.from_pretrained(
            pretrained_model_name_or_path, **{k: kwargs[k] for k in hub if k in kwargs}
        )
        return model


@cache
def register() -> None:
    """Make MODEL_TYPE known to AutoConfig and AutoModelForImageTextToText (once)."""
    from transformers import AutoConfig, AutoModelForImageTextToText

    AutoConfig.register(MODEL_TYPE, TestbedConfig)
    AutoModelForImageTextToText.register(TestbedConfig, TestbedForConditionalGeneration)
