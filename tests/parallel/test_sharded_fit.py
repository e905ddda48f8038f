"""Direction fitting and captioning split over ranks, checked in one process: each rank's
share, summed, gives the whole batch's mean difference."""

import pytest
import torch

from shiftdc.method.sample import Sample
from shiftdc.models.generation import text_activations
from shiftdc.parallel import distributed
from shiftdc.parallel.sharded_captions import caption_sharded
from shiftdc.parallel.sharded_fit import sharded_diff_of_means
from tests.helpers.samples import SAFE, UNSAFE, image


@pytest.fixture(scope="module")
def vlm(tiny_vlm):
    return tiny_vlm("llava")


def _naive(vlm):
    acts = text_activations(vlm, SAFE + UNSAFE, batch_size=2).double()
    n = len(SAFE)
    vectors = acts[:n].mean(0) - acts[n:].mean(0)
    return vectors.float(), acts.norm(dim=-1).mean(0).float()


def test_one_process_fit_is_the_mean_difference(vlm):
    vectors, norms = sharded_diff_of_means(vlm, SAFE, UNSAFE, batch_size=2, progress=False)
    ref_vectors, ref_norms = _naive(vlm)
    assert vectors.shape == (vlm.num_layers, vlm.hidden_size) and vectors.dtype == torch.float32
    torch.testing.assert_close(vectors, ref_vectors, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(norms, ref_norms, rtol=1e-4, atol=1e-5)


def test_three_ranks_shares_sum_to_the_whole(vlm, monkeypatch):
    """Each simulated rank reduces its own shard; summing what they send equals one fit."""
    sent = []
    for k in range(3):
        mine = []
        monkeypatch.setattr(distributed, "shard", lambda items, k=k: list(items)[k::3])
        monkeypatch.setattr(distributed, "all_reduce_sum", lambda t, mine=mine: mine.append(t) or t)
        sharded_diff_of_means(vlm, SAFE, UNSAFE, batch_size=2, progress=False)
        sent.append(mine)
    sums, counts, norms = (sum(parts) for parts in zip(*sent, strict=True))
    assert counts.tolist() == [len(SAFE), len(UNSAFE)]
    ref_vectors, ref_norms = _naive(vlm)
    torch.testing.assert_close(
        (sums[0] / counts[0] - sums[1] / counts[1]).float(), ref_vectors, rtol=1e-4, atol=1e-5
    )
    torch.testing.assert_close((norms / counts.sum()).float(), ref_norms, rtol=1e-4, atol=1e-5)


class _Captioner:
    def __init__(self):
        self.asked = []

    def caption(self, samples):
        self.asked.append([s.id for s in samples])
        return [f"caption of {s.id}" for s in samples]


def test_caption_sharded_fills_only_missing_captions_of_image_requests():
    samples = [
        Sample("given", "q", image(1), caption="kept"),
        Sample("text", "q"),
        Sample("a", "q", image(2)),
        Sample("b", "q", image(3)),
    ]
    cap = _Captioner()
    caption_sharded(cap, samples)
    assert [s.caption for s in samples] == ["kept", None, "caption of a", "caption of b"]
    assert cap.asked == [["a", "b"]]  # alone: no shard pass, one read of every missing one
    caption_sharded(cap, samples)
    assert cap.asked == [["a", "b"]]  # nothing left to caption
