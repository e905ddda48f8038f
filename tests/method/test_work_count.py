"""What ShiftDC adds to plain generation, counted in tokens through the decoder (not timed).

With a cached caption, ShiftDC must cost plain generation plus exactly one text-only pass
over the counterpart prompt and one extra one-token step (the last prompt token, re-run
with the corrections). The speed benchmark's first ratio is made of these; this test keeps
more work from creeping into the path, whatever the machine's timing noise.
"""

from __future__ import annotations

from shiftdc.method.captions import Captioner
from shiftdc.method.pipeline import ShiftDC
from shiftdc.method.sample import Sample
from shiftdc.models.generation import generate_plain
from tests.helpers.samples import fit_samples, image

N = 5


def _passes(vlm, fn) -> list[int]:
    seen: list[int] = []
    handle = vlm.layers[0].register_forward_hook(
        lambda _m, _i, out: seen.append((out[0] if isinstance(out, tuple) else out).shape[1])
    )
    try:
        fn()
    finally:
        handle.remove()
    return seen


def test_cached_caption_path_adds_one_text_pass_and_one_step(tiny_vlm, tmp_path):
    from shiftdc.method.direction import SafetyDirection

    vlm = tiny_vlm("llava")
    safe, unsafe = fit_samples()
    direction = SafetyDirection.fit(vlm, safe, unsafe, progress=False)
    sample = Sample("a", "what is shown in the picture ?", image(7, 32))
    sdc = ShiftDC(vlm, direction, captioner=Captioner(vlm, 6, cache_dir=tmp_path), progress=False)
    caption = sdc.captioner.caption([sample])[0]
    vlm.model.generation_config.min_new_tokens = N
    try:
        plain = _passes(vlm, lambda: generate_plain(vlm, [sample], N))
        guarded = _passes(vlm, lambda: sdc.generate([sample], N))
    finally:
        vlm.model.generation_config.min_new_tokens = None
    ad = vlm.adapter
    prompt = ad.encode_vl([sample.prompt], [sample.image])["input_ids"].shape[1]
    text = ad.encode_text([sample.text_only_prompt(caption)])["input_ids"].shape[1]
    assert plain == [prompt] + [1] * (N - 1)
    assert guarded == [text, prompt] + [1] * N
