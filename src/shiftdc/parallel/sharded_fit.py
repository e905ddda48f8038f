"""Direction fitting across ranks: each extracts a shard, sums and counts are all-reduced."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from shiftdc.models.generation import text_activations
from shiftdc.models.loading import VLM
from shiftdc.parallel import distributed


def sharded_diff_of_means(
    vlm: VLM,
    safe: Sequence[str],
    unsafe: Sequence[str],
    batch_size: int = 8,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean(safe) - mean(unsafe) [L, H], mean activation norm [L]), float32, on every rank.

    Rank r extracts prompts r, r+W, ... of safe+unsafe; the per-class sums (float64) and
    counts are summed over ranks, so the result equals the one-process fit up to the
    batch composition's float noise.
    """
    prompts = list(safe) + list(unsafe)
    mine = distributed.shard(range(len(prompts)))
    shape = (vlm.num_layers, vlm.hidden_size)
    sums = torch.zeros((2, *shape), dtype=torch.float64)
    counts = torch.zeros(2, dtype=torch.float64)
    norms = torch.zeros(vlm.num_layers, dtype=torch.float64)
    if mine:
        acts = text_activations(
            vlm,
            [prompts[i] for i in mine],
            batch_size=batch_size,
            progress=progress and distributed.is_main(),
            desc="fit direction (rank 0's shard)",
        ).double()
        is_unsafe = torch.tensor([i >= len(safe) for i in mine])
        for cls, rows in ((0, ~is_unsafe), (1, is_unsafe)):
            sums[cls] = acts[rows].sum(0)
            counts[cls] = float(rows.sum())
        norms = acts.norm(dim=-1).sum(0)
    sums = distributed.all_reduce_sum(sums)
    counts = distributed.all_reduce_sum(counts)
    norms = distributed.all_reduce_sum(norms)
    vectors = (sums[0] / counts[0] - sums[1] / counts[1]).float()
    return vectors, (norms / counts.sum()).float()
