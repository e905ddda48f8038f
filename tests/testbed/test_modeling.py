"""The reading testbed's model class, as loaded from a build (skipped without the backbone)."""

from __future__ import annotations

import pytest
import torch


def _pictures():
    import random

    from shiftdc.data.render import random_scene, render_figstep, render_sd_typo, render_typo

    return [
        render_typo("bake sourdough bread"),
        render_sd_typo(random_scene(random.Random(3)), "paint a fence"),
        render_figstep("plant a tree"),
    ]


def test_loads_through_the_auto_classes_as_the_llava_family(testbed_vlm, testbed_dir):
    import json

    from shiftdc.testbed.modeling import MODEL_TYPE, TestbedForConditionalGeneration

    assert json.loads((testbed_dir / "config.json").read_text())["model_type"] == MODEL_TYPE
    assert isinstance(testbed_vlm.model, TestbedForConditionalGeneration)
    assert testbed_vlm.family == "llava"
    assert testbed_vlm.model.model.reading_tokenizer is not None


def test_the_model_reads_its_pixels_as_the_reader_reads_the_pictures(testbed_vlm):
    """Two paths: the model's own pixel_values (processor, then `ink`) and the picture
    (PIL resize, the path the reader was trained and evaluated on)."""
    model = testbed_vlm.model.model
    pictures = _pictures()
    px = testbed_vlm.adapter.encode_vl(["What does the image say?"] * 3, pictures)["pixel_values"]
    assert model.read(px) == model.char_reader.read(pictures)
    assert model.read(px)[0] == "bake sourdough bread"


def test_image_tokens_are_the_visual_grid_then_the_reading_as_text_tokens(testbed_vlm):
    vlm = testbed_vlm
    model, cfg = vlm.model.model, vlm.model.config
    pictures = _pictures()
    inputs = vlm.adapter.encode_vl(["What does the image say?"] * 3, pictures)
    per_image = (inputs["input_ids"] == cfg.image_token_id).sum(1)
    assert per_image.tolist() == [36 + cfg.reader_slots] * 3
    with torch.no_grad():
        feats = model.get_image_features(
            inputs["pixel_values"],
            vision_feature_layer=cfg.vision_feature_layer,
            vision_feature_select_strategy=cfg.vision_feature_select_strategy,
        ).pooler_output
    embed = model.get_input_embeddings().weight
    for f, text in zip(feats, model.char_reader.read(pictures), strict=True):
        # the reading as a text prompt would carry it, independently tokenized
        ids = vlm.adapter.tokenizer(" " + text, add_special_tokens=False)["input_ids"][
            : cfg.reader_slots
        ]
        fill = [cfg.reader_fill_token_id] * (cfg.reader_slots - len(ids))
        assert torch.equal(f[36:], embed[fill + ids])
        assert vlm.adapter.tokenizer.convert_ids_to_tokens(cfg.reader_fill_token_id) == "Ġ"


def test_an_image_without_text_reads_as_fill_only(testbed_vlm):
    model = testbed_vlm.model.model
    assert model.reading_ids("") == [model.config.reader_fill_token_id] * model.config.reader_slots


def test_a_bfloat16_load_reads_the_same(testbed_dir, testbed_vlm):
    from shiftdc.models import load_vlm

    half = load_vlm(str(testbed_dir), dtype="bfloat16", device="cpu")
    pictures = _pictures()
    px = half.adapter.encode_vl(["What does the image say?"] * 3, pictures)["pixel_values"]
    assert half.model.model.read(px.to(torch.bfloat16)) == testbed_vlm.model.model.read(px)


@pytest.mark.parametrize("text", ["", "a", "word " * 40])
def test_reading_ids_always_fill_the_slots(testbed_vlm, text):
    assert len(testbed_vlm.model.model.reading_ids(text.strip())) == 32
