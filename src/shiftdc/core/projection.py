"""Projection of a shift onto a safety direction."""

import torch


def scalar_projection(m: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Coefficient c with c*s the projection of m on s: (m . s) / ||s||^2; 0 where s is zero.

    `m` is [..., H], `s` broadcasts against it ([H] or [..., H]); the result is [...].
    """
    s = s.to(m.dtype)
    denom = (s * s).sum(-1)
    coef = (m * s).sum(-1) / torch.where(denom > 0, denom, torch.ones_like(denom))
    return torch.where(denom > 0, coef, torch.zeros_like(coef))


def project(m: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Component of m along s: (m . s / ||s||^2) s, broadcast over leading dims."""
    return scalar_projection(m, s).unsqueeze(-1) * s.to(m.dtype)
