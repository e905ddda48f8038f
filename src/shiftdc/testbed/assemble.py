"""Put the pieces together in memory: aligned backbone + vision tower + projector (+ the
character reader) -> the testbed VLM."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import torch
from safetensors.torch import load_file

from shiftdc.testbed.backbone import load_backbone
from shiftdc.testbed.lora import merge_lora
from shiftdc.testbed.reader import FEATURE_LAYER, IMAGE_SIZE, PATCH, VISION_CONFIG, image_processor

WEIGHTS_DIR: Final = Path(__file__).parent / "weights"
LORA_FILE: Final = "align_lora.safetensors"
TOWER_FILE: Final = "vision_tower.safetensors"
PROJECTOR_FILE: Final = "projector.safetensors"
READER_FILE: Final = "char_reader.safetensors"
READER_SLOTS: Final = 32
"""Image tokens that carry the read text (FigStep's title and list fit in about 20)."""
IMAGE_TOKEN: Final = "<image>"
SYSTEM: Final = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
CHAT_TEMPLATE: Final = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\n" + SYSTEM + "<|im_end|>\\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<image>\\n' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""SmolLM2's own chat format, with LLaVA's image placeholder on its own line before the text."""


def aligned_backbone(weights: Path = WEIGHTS_DIR) -> tuple[Any, Any]:
    """(model, tokenizer): SmolLM2 with the safety LoRA merged in."""
    model, tok = load_backbone()
    lora = load_file(str(weights / LORA_FILE))
    from safetensors import safe_open

    with safe_open(str(weights / LORA_FILE), "pt") as f:
        meta = f.metadata() or {}
    scale = float(meta.get("alpha", 16)) / float(meta.get("rank", 8))
    merge_lora(model, lora, scale)
    return model, tok


def llava_processor(tok: Any, slots: int = 0) -> Any:
    """LlavaProcessor: CLIP resizing to the tower's input, the tokenizer with <image>, template;
    each image takes the tower's grid of tokens plus `slots` (the read text)."""
    from transformers import LlavaProcessor

    if IMAGE_TOKEN not in tok.get_vocab():
        tok.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})
    tok.padding_side = "left"
    return LlavaProcessor(
        image_processor=image_processor(),
        tokenizer=tok,
        patch_size=PATCH,
        vision_feature_select_strategy="full",
        num_additional_image_tokens=slots,
        chat_template=CHAT_TEMPLATE,
    )


def assemble(
    weights: Path = WEIGHTS_DIR, projector: bool = True, seed: int = 0, reader: Path | None = None
) -> tuple[Any, Any]:
    """(model, LlavaProcessor) from the backbone and committed weights.

    With `reader` (a character reader's weights) the model is the reading testbed
    (`shiftdc.testbed.modeling`), else a plain LlavaForConditionalGeneration (the pathway
    before the reader: stage 3's training). With `projector=False` the projector is freshly
    initialised from `seed` (for training).
    """
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    from shiftdc.testbed.char_reader import load_char_reader
    from shiftdc.testbed.modeling import TestbedConfig, TestbedForConditionalGeneration

    text_model, tok = aligned_backbone(weights)
    processor = llava_processor(tok, READER_SLOTS if reader is not None else 0)
    tok = processor.tokenizer
    text_cfg = text_model.config.to_dict()
    text_cfg["vocab_size"] = len(tok)
    ip = processor.image_processor
    config_cls, extra = LlavaConfig, {}
    if reader is not None:
        config_cls, extra = (
            TestbedConfig,
            dict(
                reader_slots=READER_SLOTS,
                reader_fill_token_id=tok.convert_tokens_to_ids("Ġ"),
                reader_image_mean=list(ip.image_mean),
                reader_image_std=list(ip.image_std),
            ),
        )
    cfg = config_cls(
        **extra,
        text_config=text_cfg,
        vision_config=dict(VISION_CONFIG),
        image_token_index=tok.convert_tokens_to_ids(IMAGE_TOKEN),
        vision_feature_select_strategy="full",
        vision_feature_layer=FEATURE_LAYER,
        projector_hidden_act="gelu",
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model_cls = LlavaForConditionalGeneration if reader is None else TestbedForConditionalGeneration
    model = model_cls(cfg)
    if reader is not None:
        model.model.char_reader.load_state_dict(load_char_reader(reader).state_dict())
        model.model.reading_tokenizer = tok
    old_rows = text_model.get_input_embeddings().weight.shape[0]
    text_model.resize_token_embeddings(len(tok), mean_resizing=False)
    with torch.no_grad():  # deterministic rows for added tokens (LLaVA replaces <image> anyway)
        emb = text_model.get_input_embeddings().weight
        emb[old_rows:] = emb[:old_rows].mean(0)
    model.model.language_model.load_state_dict(text_model.model.state_dict())
    model.lm_head.weight = model.model.language_model.embed_tokens.weight
    tower = {
        k: v.float() if v.is_floating_point() else v
        for k, v in load_file(str(weights / TOWER_FILE)).items()
    }
    model.model.vision_tower.load_state_dict(tower)
    if projector:
        proj = {k: v.float() for k, v in load_file(str(weights / PROJECTOR_FILE)).items()}
        model.model.multi_modal_projector.load_state_dict(proj)
    model.generation_config.eos_token_id = tok.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.bos_token_id = tok.bos_token_id
    model.eval()
    return model, processor


def prompt(processor, query: str, image: bool) -> str:
    """The chat prompt for one user turn (image first, as LLaVA puts it)."""
    content = ([{"type": "image"}] if image else []) + [{"type": "text", "text": query}]
    msgs = [{"role": "user", "content": content}]
    return processor.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)


assert IMAGE_SIZE % PATCH == 0
