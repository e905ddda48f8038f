"""Shared image prefix: the fast path gives the tokens of the straightforward path."""

import json

import pytest
import torch

from shiftdc.method.caption_routing import route
from shiftdc.method.captions import Captioner
from shiftdc.method.direction import SafetyDirection
from shiftdc.method.pipeline import ShiftDC
from shiftdc.method.sample import Sample
from shiftdc.models.fastpath import SharedPrefix, common_prefix, prefix_sharing_ok
from tests.helpers.reference import naive_reference
from tests.helpers.samples import fit_samples, requests

N_NEW, N_CAP = 6, 5
REF_NEW = 8  # tokens generated where the naive reference is the check


def uncaptioned() -> list[Sample]:
    """Mixed-length image requests with no caption: ShiftDC has to caption them."""
    return [Sample(r.id, r.prompt, r.image) for r in requests()]


def make(vlm, direction, tmp_path, share: bool, **kw) -> ShiftDC:
    cap = Captioner(vlm, max_new_tokens=N_CAP, use_cache=False, progress=False)
    return ShiftDC(vlm, direction, captioner=cap, progress=False, share_prefix=share, **kw)


def test_common_prefix():
    assert common_prefix(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 4, 5])) == 2
    assert common_prefix(torch.tensor([1, 2]), torch.tensor([1, 2, 4])) == 2
    assert common_prefix(torch.tensor([7]), torch.tensor([1])) == 0


def test_split_covers_the_image_and_keeps_every_row(vlm):
    reqs = uncaptioned()
    cap = Captioner(vlm, use_cache=False, progress=False)
    ans = vlm.adapter.encode_vl([r.prompt for r in reqs], [r.image for r in reqs])
    shared = SharedPrefix.build(vlm, cap.encode(reqs), ans)
    assert shared is not None and prefix_sharing_ok(vlm)
    img = vlm.model.config.image_token_id
    assert not (shared.second["input_ids"][:, shared.length :] == img).any()
    # unpadding the spliced batch gives back each row's own tokens
    for b in range(len(reqs)):
        own = ans["input_ids"][b][ans["attention_mask"][b].bool()]
        spliced = shared.second["input_ids"][b][shared.second["attention_mask"][b].bool()]
        assert torch.equal(own, spliced)


@pytest.mark.parametrize("mode", ["paper", "sequential"])
def test_shared_prefix_gives_the_same_captions_and_answers(vlm, direction, tmp_path, mode):
    reqs = uncaptioned()
    fast = make(vlm, direction, tmp_path, True, mode=mode, alpha=40.0, batch_size=8)
    slow = make(vlm, direction, tmp_path, False, mode=mode, alpha=40.0, batch_size=8)
    assert fast.sharing() and not slow.sharing()
    got, ref = fast.generate(reqs, N_NEW), slow.generate(reqs, N_NEW)
    assert [r.caption for r in got] == [r.caption for r in ref]
    assert [r.response for r in got] == [r.response for r in ref]
    assert fast.captioner.generated == slow.captioner.generated == len(reqs)
    # and the captions are what the captioner makes on its own, one request at a time
    alone = Captioner(vlm, max_new_tokens=N_CAP, use_cache=False, progress=False)
    assert [r.caption for r in got] == [alone.caption([r])[0] for r in reqs]
    for a, b in zip(got, ref, strict=True):
        torch.testing.assert_close(a.correction_norm, b.correction_norm, rtol=1e-4, atol=1e-5)


def test_batched_fast_path_equals_the_naive_four_pass_pipeline(vlm, direction, tmp_path):
    """Caption alone, text-only pass, full unsteered pass, steered generate, one at a time."""
    from shiftdc.method.captions import CAPTION_PROMPT
    from shiftdc.models.generation import generate_plain

    reqs = uncaptioned()
    fast = make(vlm, direction, tmp_path, True, alpha=40.0, batch_size=8)
    got = fast.generate(reqs, REF_NEW)
    for r, res in zip(reqs, got, strict=True):
        ask = Sample("c", CAPTION_PROMPT.format(query=r.prompt), r.image)
        caption = generate_plain(vlm, [ask], max_new_tokens=N_CAP)[0]
        _, text = naive_reference(
            vlm, direction, Sample(r.id, r.prompt, r.image, caption), fast.layers, 40.0, REF_NEW
        )
        assert (res.caption, res.response) == (caption, text)


def test_image_encoded_once_per_request(vlm, direction, tmp_path):
    calls = []
    hook = vlm.model.model.vision_tower.register_forward_hook(
        lambda _m, inp, _o: calls.append(inp[0].shape[0])
    )
    try:
        make(vlm, direction, tmp_path, True).generate(uncaptioned(), N_NEW)
        shared_calls = list(calls)
        calls.clear()
        make(vlm, direction, tmp_path, False).generate(uncaptioned(), N_NEW)
    finally:
        hook.remove()
    assert sum(shared_calls) == len(requests())
    assert sum(calls) == 2 * len(requests())


def test_cached_or_given_captions_skip_the_shared_path(vlm, direction, tmp_path):
    sd = make(vlm, direction, tmp_path, True)
    reqs = uncaptioned()
    assert route(reqs, ["a car", None, None], sd.captioner, sd.sharing()).shared == [1, 2]
    assert route(requests(), None, sd.captioner, sd.sharing()).shared == []
    other = Captioner(vlm, use_cache=False, progress=False)
    other.vlm = object()  # another model captions: nothing to share
    sd.captioner = other
    assert not sd.sharing()


@pytest.mark.parametrize(
    "family", ["llava_next", "qwen2_vl", "idefics3", "gemma3", "mistral3", "llama4", "lfm2_vl"]
)
def test_other_families_share_with_the_same_tokens(tiny_vlm, family, tmp_path):
    vlm = tiny_vlm(family)
    assert prefix_sharing_ok(vlm)
    d = SafetyDirection.fit(vlm, *fit_samples(), progress=False)
    reqs = uncaptioned()
    for batch_size in (1, 8):  # gemma3's sliding window shares only unpadded batches
        fast = make(vlm, d, tmp_path, True, alpha=40.0, batch_size=batch_size)
        slow = make(vlm, d, tmp_path, False, alpha=40.0, batch_size=batch_size)
        got, ref = fast.generate(reqs, 4), slow.generate(reqs, 4)
        assert [(r.caption, r.response) for r in got] == [(r.caption, r.response) for r in ref]


def test_generate_job_with_a_separate_captioner(tiny_dir, vlm, direction, tmp_path, monkeypatch):
    from shiftdc.cli.jobs import GenerateConfig, generate_job
    from shiftdc.cli.parser import build_parser
    from shiftdc.models import load_vlm

    monkeypatch.setenv("SHIFTDC_CACHE", str(tmp_path / "cache"))
    other = load_vlm(tiny_dir("llava_next"), dtype="float32", device="cpu")
    direction.save(tmp_path / "dir")
    out = tmp_path / "out.jsonl"
    reqs = uncaptioned()
    cfg = GenerateConfig(tmp_path / "dir", max_new_tokens=3, caption_tokens=4, progress=False)
    generate_job(vlm, reqs, out, cfg, captioner=other)
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    own = Captioner(other, max_new_tokens=4, use_cache=False, progress=False).caption(reqs)
    assert [r["caption"] for r in recs] == own
    args = build_parser().parse_args(
        ["generate", "--model", "m", "--input", "i", "--out", "o", "--captioner", "small"]
    )
    assert args.captioner == "small"


def test_conv_layers_share_only_batches_without_padding_between_the_parts(tiny_vlm):
    """LFM2's short convolutions look back over cache slots, as a sliding window does:
    padding between the shared prefix and a suffix would feed them zeros."""
    vlm = tiny_vlm("lfm2_vl")
    reqs = uncaptioned()[:2]
    ad, images = vlm.adapter, [r.image for r in reqs]
    first = ad.encode_vl(["describe the image", "show the picture"], images)
    long = "what is the color of the big circle in the image please"
    uneven = ad.encode_vl([long, "why"], images)
    even = ad.encode_vl(["what is this", "why is it"], images)
    assert SharedPrefix.build(vlm, first, uneven) is None
    assert SharedPrefix.build(vlm, first, even) is not None
