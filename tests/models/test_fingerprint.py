"""A model's fingerprint tells fine-tunes apart and ignores the load dtype."""

import torch

from shiftdc.models import load_vlm


def test_fingerprint_ignores_dtype_but_sees_a_fine_tuned_layer(tiny_dir, tmp_path):
    path = tiny_dir("llava")
    fp32 = load_vlm(path, dtype="float32", device="cpu")
    bf16 = load_vlm(path, dtype="bfloat16", device="cpu")
    assert fp32.fingerprint == bf16.fingerprint

    tuned = load_vlm(path, dtype="float32", device="cpu")
    with torch.no_grad():  # a small, merged-LoRA-like change deep inside one decoder layer
        w = tuned.layers[-1].mlp.down_proj.weight
        w += 0.05 * w.abs().max() * torch.randn(w.shape, generator=torch.Generator().manual_seed(0))
    assert tuned.fingerprint != fp32.fingerprint
    assert torch.equal(
        tuned.model.get_input_embeddings().weight, fp32.model.get_input_embeddings().weight
    )  # the old fingerprint (embeddings only) could not see this
