"""The straightforward four-pass ShiftDC pipeline, one request at a time (the baseline).

Per request: generate the caption; run the text-only prompt; run the full vision+text
prompt unsteered to read its activations; generate again from scratch with the
corrections. This is how the method reads, and how the authors' scripts run it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from shiftdc.core import paper_corrections
from shiftdc.method.captions import CAPTION_PROMPT
from shiftdc.method.sample import Sample
from shiftdc.models.generation import decode_new, generation_kwargs, to_device
from shiftdc.models.hooks import read_last, subtract_last
from shiftdc.models.loading import VLM


@torch.no_grad()
def naive_one(
    vlm: VLM,
    vectors: torch.Tensor,
    layers: Sequence[int],
    sample: Sample,
    caption_tokens: int,
    max_new_tokens: int,
) -> str:
    """One request through caption, text-only pass, unsteered vision pass, steered generate."""
    ad, model = vlm.adapter, vlm.model
    prompt = CAPTION_PROMPT.format(query=sample.prompt)
    cap_in = to_device(ad.encode_vl([prompt], [sample.image]), vlm)
    ids = model.generate(**cap_in, **generation_kwargs(vlm, caption_tokens))
    caption = decode_new(vlm, ids, cap_in["input_ids"].shape[1])[0]
    tt = to_device(ad.encode_text([sample.text_only_prompt(caption)]), vlm)
    with read_last(vlm.layers, layers) as x_tt:
        model(**tt)
    vl = to_device(ad.encode_vl([sample.prompt], [sample.image]), vlm)
    with read_last(vlm.layers, layers) as x_vl:
        model(**vl)
    corr = paper_corrections(
        torch.stack([x_vl[i] for i in layers], 1).cpu(),
        torch.stack([x_tt[i] for i in layers], 1).cpu(),
        vectors[list(layers)],
        1.0,
    )
    with subtract_last(vlm.layers, {layer: corr[:, j] for j, layer in enumerate(layers)}):
        ids = model.generate(**vl, **generation_kwargs(vlm, max_new_tokens))
    return decode_new(vlm, ids, vl["input_ids"].shape[1])[0]


def naive_pipeline(
    vlm: VLM,
    vectors: torch.Tensor,
    layers: Sequence[int],
    samples: Sequence[Sample],
    caption_tokens: int,
    max_new_tokens: int,
) -> list[str]:
    """`naive_one` over every sample, batch size 1."""
    return [naive_one(vlm, vectors, layers, s, caption_tokens, max_new_tokens) for s in samples]
