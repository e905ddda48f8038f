"""SafetyDirection: fitting, save/load, mismatch and bad-input checks."""

import json

import pytest
import torch

from shiftdc.errors import DirectionMismatchError, InputError
from shiftdc.method.direction import SafetyDirection
from shiftdc.models import load_vlm
from shiftdc.models.generation import text_activations
from shiftdc.models.tiny import make_tiny_model
from tests.helpers.samples import fit_samples


def test_fit_is_mean_safe_minus_mean_unsafe_of_raw_layer_outputs(vlm):
    safe, unsafe = fit_samples()
    d = SafetyDirection.fit(vlm, safe, unsafe, progress=False, batch_size=2)
    assert d.vectors.shape == (vlm.num_layers, vlm.hidden_size)

    # independent: one prompt at a time, raw layer outputs via output_hidden_states
    # (hidden_states[l+1] is layer l's output, except the last, which is post-norm)
    def acts(samples):
        rows = []
        for s in samples:
            enc = vlm.adapter.encode_text([s.text_only_prompt()])
            with torch.no_grad():
                hs = vlm.model(**enc, output_hidden_states=True).hidden_states
            rows.append(torch.stack([h[0, -1] for h in hs[1:]]))
        return torch.stack(rows)

    ref = acts(safe).mean(0) - acts(unsafe).mean(0)
    last = vlm.num_layers - 1
    assert torch.allclose(d.vectors[:last], ref[:last], atol=1e-5)
    raw_last = text_activations(vlm, [s.text_only_prompt() for s in safe + unsafe])[:, last]
    raw_ref = raw_last[:3].mean(0) - raw_last[3:].mean(0)
    assert torch.allclose(d.vectors[last], raw_ref, atol=1e-5)
    assert not torch.allclose(d.vectors[last], ref[last], atol=1e-3), "last layer must be pre-norm"
    assert d.meta["n_safe"] == 3 and d.meta["family"] == "llava"


def test_save_load_round_trip(vlm, tmp_path):
    safe, unsafe = fit_samples()
    d = SafetyDirection.fit(vlm, safe, unsafe, progress=False, layers=[2, 3])
    d.save(tmp_path / "dir")
    back = SafetyDirection.load(tmp_path / "dir", vlm)
    assert torch.equal(back.vectors, d.vectors) and back.meta == d.meta and back.layers == [2, 3]


def test_loading_onto_another_model_names_the_field(vlm, tmp_path):
    safe, unsafe = fit_samples()
    SafetyDirection.fit(vlm, safe, unsafe, progress=False).save(tmp_path / "dir")
    other = load_vlm(make_tiny_model("llava", tmp_path / "other", seed=7), device="cpu")
    with pytest.raises(DirectionMismatchError, match="model_fingerprint"):
        SafetyDirection.load(tmp_path / "dir", other)
    meta = json.loads((tmp_path / "dir" / "direction.json").read_text())
    meta["hidden_size"] = 64
    (tmp_path / "dir" / "direction.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="hidden_size"):
        SafetyDirection.load(tmp_path / "dir")


def test_nan_direction_is_rejected():
    v = torch.zeros(4, 8)
    v[2, 3] = float("nan")
    with pytest.raises(InputError, match=r"NaN.*\[2\]"):
        SafetyDirection(v, {})


def test_missing_files(tmp_path):
    with pytest.raises(InputError, match="direction.safetensors is missing"):
        SafetyDirection.load(tmp_path)


def test_image_without_caption_cannot_be_fitted(vlm):
    safe, unsafe = fit_samples()
    safe[0].caption = None
    with pytest.raises(InputError, match="no caption"):
        SafetyDirection.fit(vlm, safe, unsafe, progress=False)
