"""Text-only activations: tokenized once and sliced per batch, yet bitwise what encoding
each batch on its own (the reference) gives."""

import pytest
import torch

from shiftdc.models.generation import (
    _by_length,
    batches,
    no_logits_kwargs,
    take_rows,
    text_activations,
)
from shiftdc.models.hooks import read_last

PROMPTS = [" ".join(["word"] * (1 + (7 * i) % 11)) + f" number {i} ?" for i in range(9)]


@torch.no_grad()
def _reference(vlm, prompts, batch_size):
    """Each batch encoded alone, in the same length order, copied out batch by batch."""
    order = _by_length(vlm.adapter.encode_text(prompts))
    idx = list(range(vlm.num_layers))
    rows = [None] * len(prompts)
    for chunk in batches(order, batch_size):
        enc = vlm.adapter.encode_text([prompts[i] for i in chunk])
        with read_last(vlm.layers, idx) as store:
            vlm.model(**vlm.adapter.forward_kwargs(enc), use_cache=False, **no_logits_kwargs(vlm))
        for j, row in zip(chunk, torch.stack([store[i] for i in idx], 1), strict=True):
            rows[j] = row
    return torch.stack(rows)


@pytest.mark.parametrize("family", ["llava", "paligemma"])
def test_tokenized_once_equals_encoding_each_batch(tiny_vlm, family, monkeypatch):
    vlm = tiny_vlm(family)
    enc = vlm.adapter.encode_text(PROMPTS)
    for chunk in ([0, 1, 2], [3], [8, 4, 6], list(range(9))):
        alone = vlm.adapter.encode_text([PROMPTS[i] for i in chunk])
        sliced = take_rows(enc, chunk)
        assert sliced.keys() == alone.keys()
        for key in alone:
            assert torch.equal(sliced[key], alone[key]), (key, chunk)
    monkeypatch.setattr("shiftdc.models.generation.FLUSH_BYTES", 1)  # copy out after every batch
    a = text_activations(vlm, PROMPTS, batch_size=4)
    monkeypatch.setattr("shiftdc.models.generation.FLUSH_BYTES", 2**40)  # copy out once at the end
    b = text_activations(vlm, PROMPTS, batch_size=4)
    ref = _reference(vlm, PROMPTS, 4)
    assert torch.equal(a, ref) and torch.equal(b, ref)
