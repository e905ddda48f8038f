"""`shiftdc check` on every tiny family, the generic adapter, and one-line refusals."""

from __future__ import annotations

import warnings

import pytest
import torch

from shiftdc.cli import main
from shiftdc.method.check import builtin_samples, run_check
from shiftdc.models import UnsupportedModelError
from shiftdc.models.generic import GenericAdapter, _warned, adapter_for_config
from shiftdc.models.loading import VLM
from shiftdc.models.tiny import BUILDERS

#: two requests of different lengths, 2 caption and 3 answer tokens: enough to compare
FAST = dict(caption_tokens=2, max_new_tokens=3)


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_check_agrees_on_every_family(tiny_vlm, family):
    vlm = tiny_vlm(family)
    # alpha 40: corrections large enough to change tokens, so token equality means something
    outcomes = run_check(vlm, samples=builtin_samples(2), alpha=40.0, **FAST)
    assert [(o.mode, o.batch_size) for o in outcomes] == [
        ("paper", 1),
        ("paper", 2),
        ("sequential", 1),
        ("sequential", 2),
    ]
    assert all(o.verdict != "different" for o in outcomes), [o.line() for o in outcomes]
    assert all(o.max_error <= 40 * 1e-4 for o in outcomes)


def _generic(vlm) -> VLM:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        adapter = GenericAdapter(vlm.model, vlm.processor)
    return VLM(vlm.model, vlm.processor, adapter, vlm.name), seen


def test_generic_adapter_runs_any_family_and_passes_check(tiny_vlm):
    """A Qwen2-VL (multimodal positions, which the generic adapter leaves to the model)."""
    _warned.discard("qwen2_vl")
    vlm, seen = _generic(tiny_vlm("qwen2_vl"))
    assert vlm.layers is tiny_vlm("qwen2_vl").layers
    assert not vlm.adapter.prefix_cache_ok and vlm.adapter.position_ids({}) is None
    outcomes = run_check(vlm, samples=builtin_samples(2), alpha=40.0, **FAST)
    assert all(o.verdict != "different" for o in outcomes), [o.line() for o in outcomes]
    # the warning comes once per model type in a process
    _, again = _generic(tiny_vlm("qwen2_vl"))
    assert len(seen) == 1 and not [w for w in again if "unverified" in str(w.message)]


def test_check_finds_a_broken_fast_path(tiny_vlm, tiny_dir, capsys):
    """Positions doubled in the fast path's passes: the reference (model-derived) disagrees."""
    vlm = tiny_vlm("llava")

    class Shifted(type(vlm.adapter)):
        def position_ids(self, inputs):
            return super().position_ids(inputs) * 2

    broken = VLM(vlm.model, vlm.processor, Shifted(vlm.model, vlm.processor), vlm.name)
    outcomes = run_check(broken, samples=builtin_samples(2), alpha=40.0, **FAST)
    assert all(o.verdict == "different" for o in outcomes)
    assert "corrections differ" in "\n".join(outcomes[0].problems)


def test_check_command_prints_each_check_and_its_status(tiny_dir, capsys):
    args = ["check", "--model", str(tiny_dir("llava")), "--device", "cpu", "--quiet"]
    fast = ["--samples", "2", "--caption-tokens", "2", "--max-new-tokens", "2"]
    assert main([*args, *fast]) == 0
    out = capsys.readouterr().out
    assert out.count("batch 1:") == 2 and out.count("batch 2:") == 2
    assert "all 4 checks agree" in out


def test_unsupported_models_get_one_line_saying_why(tmp_path, tiny_vlm, capsys):
    from transformers import LlamaConfig, T5Config

    text = tmp_path / "llama"
    LlamaConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2).save_pretrained(text)
    assert main(["check", "--model", str(text), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "'llama' is not supported" in err and "image-text-to-text" in err
    with pytest.raises(UnsupportedModelError, match="encoder-decoder"):
        adapter_for_config(T5Config(d_model=8, num_layers=1, num_heads=2))
    vlm = tiny_vlm("llava")
    proc = vlm.processor
    template, proc.chat_template = proc.chat_template, None
    try:
        with pytest.raises(UnsupportedModelError, match="no chat template"):
            GenericAdapter(vlm.model, proc)
    finally:
        proc.chat_template = template
    with pytest.raises(UnsupportedModelError, match="decoder layers could not be found"):
        GenericAdapter(_NoLayers(vlm.model.config), proc)


class _NoLayers(torch.nn.Module):
    """A model whose decoder layers cannot be found."""

    def __init__(self, config) -> None:
        super().__init__()
        self.config = config


def test_check_without_a_model_checks_the_testbed(monkeypatch, tmp_path):
    """`shiftdc check` alone (`make check`) loads the testbed build, as `tune` does."""
    seen = {}
    monkeypatch.setattr("shiftdc.testbed.build.ensure_testbed", lambda: tmp_path / "testbed")
    monkeypatch.setattr("shiftdc.cli.commands._load", lambda args: args.model)
    monkeypatch.setattr("shiftdc.cli.check.run", lambda args, vlm: seen.update(vlm=vlm))
    assert main(["check"]) == 0
    assert seen["vlm"] == str(tmp_path / "testbed")
