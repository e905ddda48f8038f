"""Safety direction as a difference of class means."""

import torch


def diff_of_means(safe: torch.Tensor, unsafe: torch.Tensor) -> torch.Tensor:
    """Return mean(safe) - mean(unsafe) over the sample axis (dim 0), in float32.

    `safe` and `unsafe` are [N, ...] activations (e.g. [N, layers, hidden]).
    """
    if safe.ndim < 2 or unsafe.ndim < 2:
        raise ValueError("activations must be [samples, ...] with at least two dimensions")
    if safe.shape[1:] != unsafe.shape[1:]:
        raise ValueError(
            f"shape mismatch: safe {tuple(safe.shape)} vs unsafe {tuple(unsafe.shape)}"
        )
    if safe.shape[0] == 0 or unsafe.shape[0] == 0:
        raise ValueError("need at least one safe and one unsafe sample")
    return safe.float().mean(0) - unsafe.float().mean(0)
