"""Safety direction as a difference of class means."""

import torch


def diff_of_means(safe: torch.Tensor, unsafe: torch.Tensor) -> torch.Tensor:
    """Return mean(safe) - mean(unsafe) over the sample axis (dim 0), in float32 (float64
    inputs stay float64).

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
    return at_least_float32(safe).mean(0) - at_least_float32(unsafe).mean(0)


def at_least_float32(t: torch.Tensor) -> torch.Tensor:
    """`t` in float32, or float64 if it already is (half precision is upcast)."""
    return t if t.dtype == torch.float64 else t.float()
