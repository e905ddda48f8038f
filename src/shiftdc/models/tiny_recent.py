"""Tiny random checkpoints of the recent families (built from configs, no download).

Same recipe as `models/tiny.py`: a 4-layer, 32-wide text decoder, a two-layer vision tower
on images of a few pixels, the family's real processor class with the offline word-level
tokenizer and chat template. Processors that take a video processor are saved without it
always (`processing.image_only`): ShiftDC never uses video, and the
default video processors need torchvision.
"""

from __future__ import annotations

from pathlib import Path

from shiftdc.models.processing import image_only
from shiftdc.models.tiny import QWEN_SPECIALS, TEXT, _save, _special_ids, _vision
from shiftdc.models.tiny_common import chat_template, word_tokenizer


def _qwen3(out: Path, kind: str) -> None:
    """Qwen3-VL (dense or MoE) or Qwen3.5 (linear + full attention layers)."""
    import transformers as tf

    tok = word_tokenizer(QWEN_SPECIALS)
    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN_SPECIALS}
    rope = dict(rope_type="default", rope_theta=10000.0, mrope_section=[2, 1, 1])
    rope["mrope_interleaved"] = True
    vision = dict(
        depth=2,
        num_heads=2,
        patch_size=2,
        spatial_merge_size=2,
        temporal_patch_size=2,
        hidden_size=16,
        intermediate_size=32,
        out_hidden_size=TEXT["hidden_size"],
        num_position_embeddings=16,
    )
    text = dict(TEXT, head_dim=8, **_special_ids(tok), rope_parameters=rope)
    if kind == "qwen3_5":
        classes = (tf.Qwen3_5Config, tf.Qwen3_5ForConditionalGeneration)
        text.update(
            layer_types=["linear_attention", "full_attention"] * 2,
            linear_num_value_heads=2,
            linear_num_key_heads=2,
            linear_key_head_dim=8,
            linear_value_head_dim=8,
            linear_conv_kernel_dim=2,
        )
    else:
        vision["deepstack_visual_indexes"] = [0]
        classes = (tf.Qwen3VLConfig, tf.Qwen3VLForConditionalGeneration)
        if kind == "qwen3_vl_moe":
            classes = (tf.Qwen3VLMoeConfig, tf.Qwen3VLMoeForConditionalGeneration)
            text.update(num_experts=4, num_experts_per_tok=2, moe_intermediate_size=16)
    cfg = classes[0](
        text_config=dict(model_type=f"{kind}_text", **text),
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    # 4x4-pixel merged patches, at most 12x12 pixels: 1 to 9 image tokens per image
    image_processor = tf.Qwen2VLImageProcessorPil(
        size={"shortest_edge": 16, "longest_edge": 144},
        patch_size=2,
        temporal_patch_size=2,
        merge_size=2,
    )
    template = chat_template("<|vision_start|><|image_pad|><|vision_end|>")
    processor = image_only(tf.Qwen3VLProcessor)(image_processor, tok, chat_template=template)
    _save(out, classes[1](cfg), processor)


def _qwen3_vl(out: Path) -> None:
    _qwen3(out, "qwen3_vl")


def _qwen3_vl_moe(out: Path) -> None:
    _qwen3(out, "qwen3_vl_moe")


def _qwen3_5(out: Path) -> None:
    _qwen3(out, "qwen3_5")


def _llava_onevision(out: Path) -> None:
    import transformers as tf

    tok = word_tokenizer(["<image>", "<video>"])
    pinpoints = [[4, 8], [8, 4]]
    cfg = tf.LlavaOnevisionConfig(
        text_config=dict(model_type="qwen2", **TEXT, **_special_ids(tok)),
        vision_config=_vision("siglip_vision_model", image_size=4, patch_size=2),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        video_token_index=tok.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_select_strategy="full",
    )
    image_processor = tf.LlavaOnevisionImageProcessorPil(
        size={"height": 4, "width": 4}, image_grid_pinpoints=pinpoints
    )
    processor = image_only(tf.LlavaOnevisionProcessor)(
        image_processor,
        tok,
        num_image_tokens=4,
        vision_feature_select_strategy="full",
        chat_template=chat_template("<image>"),
    )
    _save(out, tf.LlavaOnevisionForConditionalGeneration(cfg), processor)


def _internvl(out: Path) -> None:
    import transformers as tf

    specials = ["<img>", "</img>", "<IMG_CONTEXT>", "<video>"]
    tok = word_tokenizer(
        specials,
        extra_special_tokens={
            "start_image_token": "<img>",
            "end_image_token": "</img>",
            "context_image_token": "<IMG_CONTEXT>",
            "video_token": "<video>",
        },
    )
    # 8x8 tiles of 2x2 patches, pixel-shuffled by 0.5: 4 image tokens per tile
    cfg = tf.InternVLConfig(
        text_config=dict(model_type="qwen2", **TEXT, **_special_ids(tok)),
        vision_config=dict(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=[8, 8],
            patch_size=[2, 2],
        ),
        image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"),
        image_seq_length=4,
    )
    image_processor = tf.GotOcr2ImageProcessorPil(
        size={"height": 8, "width": 8}, crop_to_patches=True, min_patches=1, max_patches=2
    )
    processor = image_only(tf.InternVLProcessor)(
        image_processor, tok, image_seq_length=4, chat_template=chat_template("<IMG_CONTEXT>")
    )
    _save(out, tf.InternVLForConditionalGeneration(cfg), processor)


def _glm4v(out: Path) -> None:
    import transformers as tf

    specials = ["<|begin_of_image|>", "<|image|>", "<|end_of_image|>", "<|video|>"]
    specials += ["<|begin_of_video|>", "<|end_of_video|>"]
    tok = word_tokenizer(specials)
    ids = {t: tok.convert_tokens_to_ids(t) for t in specials}
    rope = dict(rope_type="default", rope_theta=10000.0, mrope_section=[2, 1, 1])
    rope["partial_rotary_factor"] = 1.0
    cfg = tf.Glm4vConfig(
        text_config=dict(
            model_type="glm4v_text", **TEXT, **_special_ids(tok), rope_parameters=rope
        ),
        vision_config=dict(
            depth=2,
            hidden_size=16,
            intermediate_size=32,
            num_heads=2,
            image_size=8,
            patch_size=2,
            spatial_merge_size=2,
            temporal_patch_size=2,
            out_hidden_size=TEXT["hidden_size"],
        ),
        image_token_id=ids["<|image|>"],
        video_token_id=ids["<|video|>"],
        image_start_token_id=ids["<|begin_of_image|>"],
        image_end_token_id=ids["<|end_of_image|>"],
        video_start_token_id=ids["<|begin_of_video|>"],
        video_end_token_id=ids["<|end_of_video|>"],
    )
    image_processor = tf.Glm4vImageProcessorPil(
        size={"shortest_edge": 16, "longest_edge": 144},
        patch_size=2,
        temporal_patch_size=2,
        merge_size=2,
    )
    template = chat_template("<|begin_of_image|><|image|><|end_of_image|>")
    processor = image_only(tf.Glm4vProcessor)(image_processor, tok, chat_template=template)
    _save(out, tf.Glm4vForConditionalGeneration(cfg), processor)


def _gemma4(out: Path) -> None:
    """Gemma 4 with every text-side feature on: per-layer embeddings, the last two layers
    sharing KV, a sliding window shorter than the prompts, bidirectional image attention."""
    import transformers as tf

    from shiftdc.models.processing import without

    marks = dict(boi_token="<|image>", eoi_token="<image|>", image_token="<|image|>")
    marks.update(boa_token="<|audio>", eoa_token="<audio|>", audio_token="<|audio|>")
    tok = word_tokenizer([*marks.values(), "<|video|>"], extra_special_tokens=marks)
    ids = {k: tok.convert_tokens_to_ids(v) for k, v in marks.items()}
    text = dict(TEXT, head_dim=8, global_head_dim=8, **_special_ids(tok))
    text.update(
        sliding_window=6,
        layer_types=["sliding_attention", "full_attention"] * 2,
        hidden_size_per_layer_input=8,
        vocab_size_per_layer_input=len(tok),
        num_kv_shared_layers=2,
        use_bidirectional_attention="vision",
    )
    # 2x2-pixel patches average-pooled 2x2: at most 70 soft tokens per image (the fewest
    # the image processor allows); the processor resizes each image to fill that budget
    cfg = tf.Gemma4Config(
        text_config=dict(model_type="gemma4_text", **text),
        vision_config=dict(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            head_dim=8,
            patch_size=2,
            pooling_kernel_size=2,
            position_embedding_size=64,
        ),
        audio_config=None,
        boi_token_id=ids["boi_token"],
        eoi_token_id=ids["eoi_token"],
        image_token_id=ids["image_token"],
        video_token_id=tok.convert_tokens_to_ids("<|video|>"),
        boa_token_id=ids["boa_token"],
        eoa_token_index=ids["eoa_token"],
        audio_token_id=ids["audio_token"],
    )
    image_processor = tf.Gemma4ImageProcessorPil(
        patch_size=2, pooling_kernel_size=2, max_soft_tokens=70
    )
    processor = without(tf.Gemma4Processor)(
        image_processor, tok, chat_template=chat_template("<|image|>"), image_seq_length=70
    )
    _save(out, tf.Gemma4ForConditionalGeneration(cfg), processor)


def _smolvlm(out: Path) -> None:
    """SmolVLM: the Idefics3 layout and tiny sizes, SmolVLM's own classes (no video part)."""
    import transformers as tf

    from shiftdc.models.processing import without
    from shiftdc.models.tiny import idefics_checkpoint

    classes = (tf.SmolVLMConfig, tf.SmolVLMForConditionalGeneration, tf.SmolVLMImageProcessorPil)
    idefics_checkpoint(out, (*classes, without(tf.SmolVLMProcessor, ("video_processor",))))


def _mllama(out: Path) -> None:
    """Llama 3.2 Vision: 4 self-attention decoder layers with 2 cross-attention layers
    between them (text layers 1 and 4 of 6), images in up to 4 tiles of 8x8 pixels."""
    import transformers as tf

    tok = word_tokenizer(["<|image|>", "<|python_tag|>"])
    text = dict(TEXT, num_hidden_layers=6, cross_attention_layers=[1, 4], **_special_ids(tok))
    # 2x2-pixel patches of 8x8 tiles (16 patches + a class token per tile); two vision
    # layers, one global layer; the projector reads layer 0's output and the last one's
    cfg = tf.MllamaConfig(
        text_config=dict(model_type="mllama_text_model", **text),
        vision_config=dict(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_global_layers=1,
            attention_heads=2,
            image_size=8,
            patch_size=2,
            max_num_tiles=4,
            intermediate_layers_indices=[0],
            vision_output_dim=32,
        ),
        image_token_index=tok.convert_tokens_to_ids("<|image|>"),
    )
    image_processor = tf.MllamaImageProcessorPil(size={"height": 8, "width": 8}, max_image_tiles=4)
    processor = tf.MllamaProcessor(image_processor, tok, chat_template=chat_template("<|image|>"))
    _save(out, tf.MllamaForConditionalGeneration(cfg), processor)


def _mistral3(out: Path) -> None:
    """Mistral Small 3.x: a Pixtral vision tower (2x2-pixel patches, merged 2x2) and a
    Mistral decoder; each image row of merged patches ends with [IMG_BREAK], the image with
    [IMG_END]. The PIL image processor: the same resizing as the torchvision one."""
    import transformers as tf

    specials = ["[IMG]", "[IMG_BREAK]", "[IMG_END]"]
    tok = word_tokenizer(specials)
    cfg = tf.Mistral3Config(
        # no sliding window, as in Mistral Small 3.x (MistralConfig's default has one)
        text_config=dict(
            model_type="mistral", **TEXT, head_dim=8, sliding_window=None, **_special_ids(tok)
        ),
        vision_config=dict(
            model_type="pixtral",
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            head_dim=8,
            image_size=16,
            patch_size=2,
        ),
        image_token_index=tok.convert_tokens_to_ids("[IMG]"),
        spatial_merge_size=2,
        vision_feature_layer=-1,
    )
    # images fit in 12x12 pixels, in multiples of 4 (a merged patch): 1 to 9 image tokens
    # plus one [IMG_BREAK] per row ([IMG_END] closes the last)
    image_processor = tf.PixtralImageProcessorPil(size={"longest_edge": 12}, patch_size=4)
    processor = tf.PixtralProcessor(
        image_processor,
        tok,
        patch_size=2,
        spatial_merge_size=2,
        chat_template=chat_template("[IMG]"),
    )
    _save(out, tf.Mistral3ForConditionalGeneration(cfg), processor)


def _llama4(out: Path) -> None:
    """Llama 4: MoE layers (1 and 3) between dense ones, chunked attention (RoPE layers 0-2,
    chunks of 8 tokens, shorter than the prompts) and a full-attention NoPE layer (3) with
    attention temperature tuning; images in up to 4 tiles of 8x8 pixels plus a global one."""
    import transformers as tf

    specials = ["<|image_start|>", "<|image_end|>", "<|image|>", "<|patch|>"]
    specials += ["<|tile_x_separator|>", "<|tile_y_separator|>"]
    tok = word_tokenizer(specials)
    text = dict(TEXT, head_dim=8, intermediate_size_mlp=64, **_special_ids(tok))
    text.update(
        num_local_experts=4,
        num_experts_per_tok=1,
        interleave_moe_layer_step=2,
        attention_chunk_size=8,
        no_rope_layer_interval=4,
        floor_scale=8,
    )
    # 2x2-pixel patches of 8x8 tiles, pixel-shuffled by 0.5: 4 image tokens per tile
    cfg = tf.Llama4Config(
        text_config=text,
        vision_config=dict(
            hidden_size=16,
            # the adapter MLP's first layer reads the pixel-shuffled patches (4 x 16 wide)
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=8,
            patch_size=2,
            pixel_shuffle_ratio=0.5,
            projector_input_dim=32,
            projector_output_dim=32,
            vision_output_dim=32,
        ),
        boi_token_index=tok.convert_tokens_to_ids("<|image_start|>"),
        eoi_token_index=tok.convert_tokens_to_ids("<|image_end|>"),
        image_token_index=tok.convert_tokens_to_ids("<|patch|>"),
    )
    image_processor = tf.Llama4ImageProcessor(size={"height": 8, "width": 8}, max_patches=4)
    processor = tf.Llama4Processor(
        image_processor,
        tok,
        patch_size=2,
        pixel_shuffle_ratio=0.5,
        chat_template=chat_template("<|image|>"),
    )
    _save(out, tf.Llama4ForConditionalGeneration(cfg), processor)


def _lfm2_vl(out: Path) -> None:
    """LFM2-VL: an LFM2 decoder (short-convolution layers 0 and 2, attention layers 1 and
    3) and a SigLIP2 NaFlex tower (2x2-pixel patches, downsampled 2x2); images larger than
    one 8x8 tile are split into tiles plus a thumbnail."""
    import transformers as tf

    marks = dict(
        image_token="<image>",
        image_start_token="<|image_start|>",
        image_end_token="<|image_end|>",
        image_thumbnail_token="<|img_thumbnail|>",
    )
    grid = [f"<|img_row_{i}_col_{j}|>" for i in range(1, 5) for j in range(1, 5)]
    tok = word_tokenizer([*marks.values(), *grid], extra_special_tokens=marks)
    text = dict(TEXT, **_special_ids(tok))
    text.update(
        model_type="lfm2",
        layer_types=["conv", "full_attention"] * 2,
        conv_L_cache=3,
        block_auto_adjust_ff_dim=False,
    )
    cfg = tf.Lfm2VlConfig(
        text_config=text,
        vision_config=dict(
            model_type="siglip2_vision_model",
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            patch_size=2,
            num_patches=16,
        ),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        projector_hidden_size=32,
        downsample_factor=2,
    )
    image_processor = tf.Lfm2VlImageProcessor(
        encoder_patch_size=2,
        downsample_factor=2,
        tile_size=8,
        min_image_tokens=1,
        max_image_tokens=4,
        min_tiles=2,
        max_tiles=4,
        max_pixels_tolerance=1.0,
    )
    processor = tf.Lfm2VlProcessor(image_processor, tok, chat_template=chat_template("<image>"))
    _save(out, tf.Lfm2VlForConditionalGeneration(cfg), processor)
