"""positions='all': every position of the calibrated layers corrected, against hooks by hand."""

import torch

from shiftdc.method.pipeline import ShiftDC
from tests.helpers.samples import requests

N_NEW = 6


def _by_hand(layers, corrections):
    """Forward hooks subtracting corrections[l] ([H]) from every position of layer l."""
    handles = []
    for layer, corr in corrections.items():

        def hook(_m, _i, out, corr=corr):
            h = out[0] if isinstance(out, tuple) else out
            h = h - corr.to(h.dtype)
            return (h, *out[1:]) if isinstance(out, tuple) else h

        handles.append(layers[layer].register_forward_hook(hook))
    return handles


@torch.no_grad()
def _naive_greedy(vlm, sample, corrections, n_new):
    """Greedy decoding by full forward passes (no cache), every position corrected."""
    ad = vlm.adapter
    inputs = ad.encode_vl([sample.prompt], [sample.image])
    handles = _by_hand(vlm.layers, corrections)
    try:
        logits0 = vlm.model(**ad.forward_kwargs(inputs), use_cache=False).logits[0, -1]
        ids = inputs["input_ids"]
        new = []
        for _ in range(n_new):
            run = {**inputs, "input_ids": ids, "attention_mask": torch.ones_like(ids)}
            nxt = vlm.model(**ad.forward_kwargs(run), use_cache=False).logits[0, -1].argmax()
            if nxt.item() == vlm.processor.tokenizer.eos_token_id:
                break
            new.append(nxt.item())
            ids = torch.cat([ids, nxt.view(1, 1)], 1)
    finally:
        for h in handles:
            h.remove()
    return logits0, vlm.processor.tokenizer.decode(new, skip_special_tokens=True)


def test_all_positions_match_a_naive_full_forward(vlm, direction, tmp_path):
    sample = requests()[1]
    sdc = ShiftDC(vlm, direction, layers=[1, 2, 3], alpha=3.0, positions="all", progress=False)
    sdc.captioner.cache_dir = tmp_path
    cal, _ = sdc.calibrate([sample], [sample.caption])
    corrections = {layer: c[0] for layer, c in cal.as_dict().items()}
    want_logits, want_text = _naive_greedy(vlm, sample, corrections, N_NEW)

    inputs = vlm.adapter.encode_vl([sample.prompt], [sample.image])
    with torch.no_grad(), sdc.applied(cal):
        got_logits = vlm.model(**vlm.adapter.forward_kwargs(inputs), use_cache=False).logits[0, -1]
    torch.testing.assert_close(got_logits, want_logits, atol=1e-4, rtol=1e-4)
    got = sdc.generate([sample], max_new_tokens=N_NEW, captions=[sample.caption])[0].response
    assert got.strip() == want_text.strip()

    last = ShiftDC(vlm, direction, layers=[1, 2, 3], alpha=3.0, progress=False)
    with torch.no_grad(), last.applied(cal):
        last_logits = vlm.model(**vlm.adapter.forward_kwargs(inputs), use_cache=False).logits[0, -1]
    assert not torch.allclose(last_logits, want_logits, atol=1e-4)  # the choice matters
