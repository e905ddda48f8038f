"""ShiftDC generation against independent reference computations (tiny LLaVA)."""

import numpy as np
import pytest
import torch

from shiftdc.errors import InputError
from shiftdc.method.direction import SafetyDirection
from shiftdc.method.pipeline import ShiftDC
from shiftdc.models.generation import generate_plain
from shiftdc.models.hooks import read_last, subtract_last
from tests.helpers.reference import naive_reference
from tests.helpers.samples import requests

N_NEW = 8


def make(vlm, direction, tmp_path, **kw) -> ShiftDC:
    sd = ShiftDC(vlm, direction, progress=False, **kw)
    sd.captioner.cache_dir = tmp_path / "captions"
    return sd


def test_zero_direction_and_zero_alpha_reproduce_plain_generate(vlm, direction, tmp_path):
    reqs = requests()
    plain = generate_plain(vlm, reqs, max_new_tokens=N_NEW)
    zero = SafetyDirection(torch.zeros_like(direction.vectors), dict(direction.meta))
    for sd in (make(vlm, zero, tmp_path), make(vlm, direction, tmp_path, alpha=0.0)):
        for mode in ("paper", "sequential"):
            sd.mode = mode
            assert [r.response for r in sd.generate(reqs, max_new_tokens=N_NEW)] == plain


def test_paper_mode_with_kv_reuse_equals_naive_two_pass_reference(vlm, direction, tmp_path):
    alpha = 40.0  # large, so the corrections visibly change the output
    sd = make(vlm, direction, tmp_path, alpha=alpha)
    plain = generate_plain(vlm, requests(), max_new_tokens=N_NEW)
    changed = 0
    for sample, plain_text in zip(requests(), plain, strict=True):
        ref_corr, ref_text = naive_reference(vlm, direction, sample, sd.layers, alpha, N_NEW)
        tr = sd.trace(sample)
        for layer in sd.layers:
            assert torch.allclose(tr.correction[layer], ref_corr[layer][0], atol=1e-5)
        (res,) = sd.generate([sample], max_new_tokens=N_NEW)
        assert res.response == ref_text
        changed += res.response != plain_text
    assert changed > 0, "corrections never changed the output; the test would be vacuous"


def test_sequential_mode_zeroes_the_safety_component_at_every_layer(vlm, direction, tmp_path):
    sd = make(vlm, direction, tmp_path, mode="sequential", layers=[1, 2, 3])
    reqs = requests()
    cal, _ = sd.calibrate(reqs, [r.caption for r in reqs])
    vl = vlm.adapter.encode_vl([r.prompt for r in reqs], [r.image for r in reqs])
    # replay: apply the recorded corrections in one full pass and read the calibrated stream
    with torch.no_grad(), subtract_last(vlm.layers, cal.as_dict()):
        with read_last(vlm.layers, sd.layers) as after:
            vlm.model(**vl, position_ids=vlm.adapter.position_ids(vl))
    for layer in sd.layers:
        s = direction.vectors[layer]
        shift = after[layer] - cal.x_tt[:, layer]
        before = (cal.x_vl[:, layer] - cal.x_tt[:, layer]) @ s
        assert (shift @ s).abs().max() <= 1e-4 * max(1.0, before.abs().max().item())
    assert cal.corrections.norm() > 0


def test_batch_of_mixed_lengths_equals_one_at_a_time(vlm, direction, tmp_path):
    reqs = requests()
    for mode in ("paper", "sequential"):
        sd = make(vlm, direction, tmp_path, alpha=40.0, mode=mode, batch_size=8)
        batched = sd.generate(reqs, max_new_tokens=N_NEW)
        single = [sd.generate([r], max_new_tokens=N_NEW)[0] for r in reqs]
        assert [r.response for r in batched] == [r.response for r in single]
        for b, s in zip(batched, single, strict=True):
            np.testing.assert_allclose(b.correction_norm, s.correction_norm, rtol=1e-4, atol=1e-5)


def test_context_manager_steers_a_users_own_generate(vlm, direction, tmp_path):
    sd = make(vlm, direction, tmp_path, alpha=40.0)
    reqs = requests()
    cal, _ = sd.calibrate(reqs, [r.caption for r in reqs])
    vl = vlm.adapter.encode_vl([r.prompt for r in reqs], [r.image for r in reqs])
    with torch.no_grad(), sd.applied(cal):
        ids = vlm.model.generate(**vl, max_new_tokens=N_NEW, do_sample=False)
    texts = vlm.adapter.tokenizer.batch_decode(
        ids[:, vl["input_ids"].shape[1] :], skip_special_tokens=True
    )
    ours = sd.generate(reqs, max_new_tokens=N_NEW)
    assert [t.strip() for t in texts] == [r.response for r in ours]


def test_text_only_samples_are_generated_plainly(vlm, direction, tmp_path):
    from shiftdc.method.sample import Sample

    sd = make(vlm, direction, tmp_path)
    out = sd.generate([Sample("t", "how to make a cake")], max_new_tokens=4)
    assert (
        not out[0].calibrated
        and out[0].response
        == generate_plain(vlm, [Sample("t", "how to make a cake")], max_new_tokens=4)[0]
    )


def test_bad_mode_and_layers(vlm, direction):
    with pytest.raises(InputError, match="unknown mode"):
        ShiftDC(vlm, direction, mode="bogus")
    with pytest.raises(InputError, match="outside the model"):
        ShiftDC(vlm, direction, layers=[2, 9])
