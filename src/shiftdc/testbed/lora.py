"""A minimal LoRA: low-rank deltas on chosen nn.Linear layers, saved small and merged at build."""

from __future__ import annotations

import math

import torch
from torch import nn

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class LoRALinear(nn.Module):
    """y = base(x) + scale * B(A(x)), with the base layer frozen."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Base output plus the low-rank update."""
        return self.base(x) + self.scale * (x @ self.lora_a.T) @ self.lora_b.T


def attach_lora(model: nn.Module, rank: int, alpha: float) -> dict[str, LoRALinear]:
    """Wrap every target Linear of `model` in place; freeze everything else; return the wraps."""
    for p in model.parameters():
        p.requires_grad_(False)
    wraps: dict[str, LoRALinear] = {}
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if child_name in TARGETS and isinstance(child, nn.Linear):
                wrap = LoRALinear(child, rank, alpha)
                setattr(module, child_name, wrap)
                wraps[f"{name}.{child_name}" if name else child_name] = wrap
    return wraps


def lora_state(wraps: dict[str, LoRALinear]) -> dict[str, torch.Tensor]:
    """The deltas as a flat fp16 state dict (`<layer>.lora_a`, `<layer>.lora_b`)."""
    out: dict[str, torch.Tensor] = {}
    for name, wrap in wraps.items():
        out[f"{name}.lora_a"] = wrap.lora_a.detach().to(torch.float16).contiguous()
        out[f"{name}.lora_b"] = wrap.lora_b.detach().to(torch.float16).contiguous()
    return out


@torch.no_grad()
def merge_lora(model: nn.Module, state: dict[str, torch.Tensor], scale: float) -> int:
    """Add scale * B @ A into each named Linear weight of a plain model; return how many.

    The sum is formed in float64 and rounded once, so it does not depend on the machine.
    """
    modules = dict(model.named_modules())
    merged = 0
    for key in state:
        if not key.endswith(".lora_a"):
            continue
        name = key[: -len(".lora_a")]
        linear = modules.get(name)
        if not isinstance(linear, nn.Linear):
            raise KeyError(f"LoRA delta for {name!r}, but the model has no Linear there")
        # float64: fp16 factors multiply exactly and rank-r sums stay exact, so the merged
        # weights (and the model fingerprint) are bit-identical on every CPU and BLAS.
        a = state[key].double()
        b = state[f"{name}.lora_b"].double()
        merged_w = linear.weight.double() + scale * (b @ a)
        linear.weight.copy_(merged_w.to(linear.weight.dtype))
        merged += 1
    return merged
