"""Every family's tiny checkpoint: loading, batched prompts, generation, KV-prefix reuse."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from shiftdc.models import UnsupportedModelError, families, load_vlm
from shiftdc.models.adapter import Adapter
from shiftdc.models.families import adapter_for_family, adapter_for_model_type
from shiftdc.models.fastpath import image_token_id
from shiftdc.models.hooks import read_last, subtract_last
from shiftdc.models.tiny import BUILDERS

CHECKPOINTS = sorted(BUILDERS)
PROMPTS = ["describe the image", "what is the color of the big circle in the image please"]
NEW_TOKENS = 6


def _images() -> list[Image.Image]:
    # two sizes and aspect ratios: any-resolution families give them different token counts
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 255, (7, 10, 3), dtype=np.uint8)),
        Image.fromarray(rng.integers(0, 255, (12, 7, 3), dtype=np.uint8)),
    ]


def _adapter_cls(checkpoint: str) -> type[Adapter]:
    # tiny checkpoints are named by model_type (qwen2_5_vl is served by the qwen2_vl family)
    return adapter_for_model_type(checkpoint)


def _gen(model, inputs: dict[str, Any], **kw: Any) -> torch.Tensor:
    return model.generate(**inputs, **kw, max_new_tokens=NEW_TOKENS, do_sample=False)


def _assert_left_padded(inputs: dict[str, torch.Tensor]) -> None:
    mask = inputs["attention_mask"]
    assert mask[:, -1].all(), "the last position must be a real token in every row"
    lengths = mask.sum(-1)
    assert lengths[0] != lengths[1], "the two prompts should differ in length"
    short = int(lengths.argmin())
    assert mask[short, 0] == 0, "padding must be on the left"


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_load_encode_generate(tiny_vlm, checkpoint):
    vlm = tiny_vlm(checkpoint)
    assert vlm.family == _adapter_cls(checkpoint).family
    assert vlm.model.config.model_type in vlm.adapter.model_types
    assert vlm.num_layers == 4 and vlm.hidden_size == 32
    if vlm.family == "mllama":  # the self-attention layers, cross-attention ones left out
        cross = vlm.adapter.cross_attention_layers()
        every = vlm.model.get_decoder().layers
        assert list(vlm.layers) == [m for i, m in enumerate(every) if i not in cross]
        assert cross and len(every) == vlm.num_layers + len(cross)
    elif vlm.family == "llama4":  # get_decoder() is the causal LM wrapper there
        assert vlm.layers is vlm.model.language_model.model.layers
    else:
        assert vlm.layers is vlm.model.get_decoder().layers

    vl = vlm.adapter.encode_vl(PROMPTS, _images())
    tt = vlm.adapter.encode_text(PROMPTS)
    for inputs in (vl, tt):
        _assert_left_padded(inputs)
    assert "pixel_values" in vl and "pixel_values" not in tt

    with torch.no_grad():
        with read_last(vlm.layers, range(vlm.num_layers)) as acts:
            vlm.model(**vl, position_ids=vlm.adapter.position_ids(vl))
        assert all(a.shape == (2, 32) and torch.isfinite(a).all() for a in acts.values())
        for inputs in (vl, tt):
            out = _gen(vlm.model, inputs)
            assert out.shape == (2, inputs["input_ids"].shape[1] + NEW_TOKENS)


def _last_token_acts(vlm, inputs, start: int) -> tuple[dict[int, torch.Tensor], Any]:
    """The pipeline's cached passes: columns [0, start) into a fresh cache (the shared image
    prefix), then [start, end) on it, reading the last token; the cache is cropped by it."""
    ad, layers = vlm.adapter, vlm.layers
    cache = ad.prefix_cache()
    if start:
        vlm.model(**ad.forward_kwargs(inputs, 0, start, cache))
    with read_last(layers, range(len(layers))) as acts:
        vlm.model(**ad.forward_kwargs(inputs, start, None, cache))
    cache.crop(-1)
    return dict(acts), cache


def _after_image(vlm, inputs) -> int:
    """First column after every row's image tokens (where a shared image prefix ends)."""
    cols = (inputs["input_ids"] == image_token_id(vlm)).nonzero()[:, 1]
    split = int(cols.max()) + 1
    assert split < inputs["input_ids"].shape[1] - 1
    return split


def _naive(vlm, inputs, corrections):
    """Whole-prompt forward and plain `generate`s, the model deriving everything itself."""
    with read_last(vlm.layers, range(vlm.num_layers)) as full:
        vlm.model(**inputs)
    ref = _gen(vlm.model, inputs)
    with subtract_last(vlm.layers, corrections):
        ref_steered = _gen(vlm.model, inputs)
    assert not torch.equal(ref_steered, ref), "the corrections should change the output"
    return dict(full), ref, ref_steered


def _corrections(vlm, scale: float) -> dict[int, torch.Tensor]:
    torch.manual_seed(1)
    return {i: scale * torch.randn(2, 32) for i in (2, 3)}


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
@torch.no_grad()
def test_uncached_passes_match_naive_passes(tiny_vlm, checkpoint):
    """`forward_kwargs`/`generate_kwargs` without a cache (text-only passes, prefix-LM)."""
    vlm = tiny_vlm(checkpoint)
    ad = vlm.adapter
    inputs = ad.encode_vl(PROMPTS, _images())
    with read_last(vlm.layers, [3]) as probe:
        vlm.model(**inputs)
    full, ref, ref_steered = _naive(vlm, inputs, _corrections(vlm, float(probe[3].abs().max())))
    with read_last(vlm.layers, range(vlm.num_layers)) as acts:
        vlm.model(**ad.forward_kwargs(inputs))
    for i in range(vlm.num_layers):
        torch.testing.assert_close(acts[i], full[i], atol=1e-5, rtol=0)
    assert torch.equal(_gen(vlm.model, ad.generate_kwargs(inputs)), ref)


@pytest.mark.parametrize("split", ["whole", "after_image"])
@pytest.mark.parametrize("checkpoint", [c for c in CHECKPOINTS if _adapter_cls(c).prefix_cache_ok])
@torch.no_grad()
def test_cached_passes_match_naive_passes(tiny_vlm, checkpoint, split):
    """The adapter's pass builders, as the pipeline and the shared-prefix path run them."""
    vlm = tiny_vlm(checkpoint)
    ad = vlm.adapter
    inputs = ad.encode_vl(PROMPTS, _images())
    start = 0 if split == "whole" else _after_image(vlm, inputs)
    acts, cache = _last_token_acts(vlm, inputs, start)
    corrections = _corrections(vlm, float(acts[3].abs().max()))
    full, ref, ref_steered = _naive(vlm, inputs, corrections)
    for i in range(vlm.num_layers):
        torch.testing.assert_close(acts[i], full[i], atol=1e-5, rtol=0)
    assert torch.equal(_gen(vlm.model, ad.generate_kwargs(inputs, cache)), ref)
    _, cache = _last_token_acts(vlm, inputs, start)
    with subtract_last(vlm.layers, corrections):
        assert torch.equal(_gen(vlm.model, ad.generate_kwargs(inputs, cache)), ref_steered)


@torch.no_grad()
def test_prefix_lm_cache_is_not_reusable(tiny_vlm):
    """PaliGemma's bidirectional prompt changes earlier keys when the last token comes."""
    vlm = tiny_vlm("paligemma")
    assert not vlm.adapter.prefix_cache_ok
    inputs = vlm.adapter.encode_vl(PROMPTS, _images())
    with read_last(vlm.layers, [3]) as full:
        vlm.model(**inputs)
    acts, cache = _last_token_acts(vlm, inputs, inputs["input_ids"].shape[1] - 1)
    assert (acts[3] - full[3]).abs().max() > 1e-4
    with pytest.raises(ValueError, match="cannot be reused"):
        vlm.adapter.generate_kwargs(inputs, cache)


def test_qwen2_vl_positions_are_multimodal(tiny_vlm):
    """Image tokens get 2D grid positions, so the text layout would be wrong for them."""
    vlm = tiny_vlm("qwen2_vl")
    inputs = vlm.adapter.encode_vl(PROMPTS, _images())
    pos = vlm.adapter.position_ids(inputs)
    text = Adapter.position_ids(vlm.adapter, inputs)
    assert pos.shape == (4, *inputs["input_ids"].shape)
    assert torch.equal(pos[0], text)
    assert not torch.equal(pos[1:], text.expand(3, -1, -1))
    # text-only prompts keep plain positions
    tt = vlm.adapter.encode_text(PROMPTS)
    assert vlm.adapter.position_ids(tt).shape == tt["input_ids"].shape


def test_gemma3_prompts_exceed_the_sliding_window(tiny_vlm):
    """So the KV-prefix test above covers rolling back a sliding-window cache."""
    vlm = tiny_vlm("gemma3")
    window = vlm.adapter.text_config().sliding_window
    inputs = vlm.adapter.encode_vl(PROMPTS, _images())
    assert inputs["attention_mask"].sum(-1).min() > window


@torch.no_grad()
def test_mllama_text_only_prompts_skip_the_cross_attention_layers(tiny_vlm):
    """The text-only counterpart: the model runs no cross-attention layer without an image,
    and the processor starts both kinds of prompt with the same <bos>."""
    vlm = tiny_vlm("mllama")
    every = vlm.model.get_decoder().layers
    ran: list[int] = []
    hooks = [
        every[i].register_forward_hook(lambda *_, i=i: ran.append(i))
        for i in vlm.adapter.cross_attention_layers()
    ]
    try:
        tt = vlm.adapter.encode_text(PROMPTS)
        assert set(tt) == {"input_ids", "attention_mask"}
        vlm.model(**tt)
        assert ran == []
        vl = vlm.adapter.encode_vl(PROMPTS, _images())
        vlm.model(**vl)
        assert ran == vlm.adapter.cross_attention_layers()
    finally:
        for h in hooks:
            h.remove()
    bos = vlm.adapter.tokenizer.bos_token_id
    for inputs in (tt, vl):
        first = inputs["attention_mask"].argmax(-1)
        assert (inputs["input_ids"][torch.arange(2), first] == bos).all()


def test_unsupported_model_type_lists_families(tmp_path):
    from transformers import LlamaConfig

    with pytest.raises(UnsupportedModelError) as err:
        adapter_for_model_type("glm4v_moe")
    for fam in families():
        assert fam in str(err.value)
    LlamaConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path)
    with pytest.raises(UnsupportedModelError, match="'llama' is not supported"):
        load_vlm(tmp_path, device="cpu")


def test_every_family_has_a_tiny_checkpoint():
    # families() lists the registry's names (qwen2_5_vl among them), BUILDERS the same
    assert CHECKPOINTS == sorted(families())
    assert {_adapter_cls(c) for c in CHECKPOINTS} == {adapter_for_family(f) for f in families()}


def test_a_family_missing_a_class_or_package_is_unavailable(tmp_path, monkeypatch):
    """Reported with what is missing when loading or building it (tests skip with that)."""
    from shiftdc.models.families import FAMILIES, FamilyUnavailableError
    from shiftdc.models.tiny import make_tiny_model

    class Needy(Adapter):
        family = "needy"
        model_types = ("llava",)
        requires = ("transformers.NoSuchVLMForConditionalGeneration", "no_such_package_xyz")

    assert adapter_for_family("gemma4").unavailable() is None
    why = Needy.unavailable()
    assert "transformers.NoSuchVLMForConditionalGeneration (transformers 5." in why
    assert "'no_such_package_xyz' (pip install no_such_package_xyz)" in why
    monkeypatch.setitem(FAMILIES, "llava", Needy)
    with pytest.raises(FamilyUnavailableError, match="family 'needy' is unavailable here"):
        make_tiny_model("llava", tmp_path / "m")
    assert not (tmp_path / "m").exists()
