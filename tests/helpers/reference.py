"""ShiftDC computed the naive way, to compare the pipeline and its fast path against."""

import numpy as np
import torch

from shiftdc.models.hooks import read_last, subtract_last


def naive_reference(vlm, direction, sample, layers, alpha, new_tokens):
    """Two full unsteered passes, corrections by numpy, then a fresh steered generate."""
    ad, model = vlm.adapter, vlm.model
    tt = ad.encode_text([f"{sample.prompt} Image Caption: {sample.caption}"])
    vl = ad.encode_vl([sample.prompt], [sample.image])
    all_idx = list(range(vlm.num_layers))
    with torch.no_grad():
        with read_last(vlm.layers, all_idx) as xt:
            model(**tt)
        with read_last(vlm.layers, all_idx) as xv:
            model(**vl)
    corr = {}
    for layer in layers:
        m = (xv[layer][0] - xt[layer][0]).numpy().astype(np.float64)
        s = direction.vectors[layer].numpy().astype(np.float64)
        corr[layer] = torch.tensor(alpha * (m @ s) / (s @ s) * s, dtype=torch.float32)[None]
    with torch.no_grad(), subtract_last(vlm.layers, corr):
        ids = model.generate(**vl, max_new_tokens=new_tokens, do_sample=False)
    text = ad.tokenizer.decode(ids[0, vl["input_ids"].shape[1] :], skip_special_tokens=True)
    return corr, text.strip()
