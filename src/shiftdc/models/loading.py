"""load_vlm: hub id or local path -> VLM (model + processor + adapter)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shiftdc.models.adapter import Adapter
from shiftdc.models.dispatch import dispatch_kwargs, input_device, sampled_parameters
from shiftdc.models.families import check_available, register_model_types
from shiftdc.models.generic import adapter_for_config

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


FINGERPRINT_SAMPLES = 64
"""Values per parameter tensor that enter a model's fingerprint."""


@dataclass
class VLM:
    """A loaded vision-language model with its processor and family adapter."""

    model: nn.Module
    processor: Any
    adapter: Adapter
    name: str
    _fingerprint: str | None = field(default=None, repr=False)

    @property
    def family(self) -> str:
        return self.adapter.family

    @property
    def layers(self) -> nn.ModuleList:
        return self.adapter.decoder_layers()

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def hidden_size(self) -> int:
        return int(self.adapter.text_config().hidden_size)

    @property
    def device(self) -> torch.device:
        return input_device(self.model)  # never a parameter's: offloaded ones are meta

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def fingerprint(self) -> str:
        """Identity of the weights, independent of where they were loaded from.

        Hashes names, shapes and FINGERPRINT_SAMPLES evenly spaced values of every parameter
        tensor, rounded through bfloat16 so that float32 and bfloat16 loads of one checkpoint
        agree, while a fine-tune of any layer (a merged LoRA, say) gets a new fingerprint.
        """
        if self._fingerprint is None:
            h = hashlib.sha256()
            h.update(
                f"{self.model.config.model_type}|{self.num_layers}|{self.hidden_size}".encode()
            )
            with torch.no_grad():
                for name, shape, sample in sampled_parameters(self.model, _fingerprint_sample):
                    h.update(f"|{name}|{shape}|".encode())
                    h.update(sample.cpu().numpy().tobytes())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint


DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu")
"""Device types a model can be loaded on (each checked for availability first)."""


def check_device(device: str) -> str:
    """Return `device` if this machine has it, else raise InputError saying what to use."""
    from shiftdc.errors import InputError

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InputError(
            f"unknown device {device!r}; use cpu, cuda, cuda:N (N = GPU index) or mps"
        ) from None
    if dev.type not in DEVICE_TYPES:
        raise InputError(f"device type {dev.type!r} is not supported; use cpu, cuda or mps")
    if dev.type == "cpu":
        return device
    backend = getattr(torch, dev.type, None) if dev.type != "mps" else torch.backends.mps
    if backend is None or not backend.is_available():
        raise InputError(
            f"--device {device}: this machine (or this PyTorch build) has no {dev.type} "
            "device; use --device cpu"
        )
    count = backend.device_count() if hasattr(backend, "device_count") else 1
    if dev.index is not None and dev.index >= count:
        raise InputError(
            f"--device {device}: there is no {dev.type} device {dev.index}; this machine has "
            f"{count} ({dev.type}:0..{dev.type}:{count - 1})"
        )
    return device


def _fingerprint_sample(param: torch.Tensor) -> torch.Tensor:
    flat = param.reshape(-1)
    step = max(1, flat.numel() // FINGERPRINT_SAMPLES)
    return flat[::step][:FINGERPRINT_SAMPLES].to(torch.bfloat16).float().cpu()


def _resolve_dtype(dtype: str | torch.dtype | None, device: str) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)} or 'auto'")
    return DTYPES[dtype]


def load_vlm(
    name_or_path: str | Path,
    dtype: str | torch.dtype | None = "auto",
    device: str | None = None,
    device_map: str | dict | None = None,
    max_memory: str | dict | None = None,
    offload_folder: str | None = None,
    **from_pretrained_kwargs: Any,
) -> VLM:
    """Load a Hugging Face VLM (hub id or local directory) with its processor and adapter.

    `device_map` ("auto", or an accelerate map) splits the model over GPUs/CPU/disk
    (`shiftdc.models.dispatch`); `device` is then ignored.
    """
    from transformers import AutoConfig, AutoModelForImageTextToText

    name = str(name_or_path)
    device = check_device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    register_model_types()
    try:
        config = AutoConfig.from_pretrained(name, **from_pretrained_kwargs)
    except (OSError, ValueError) as exc:
        raise OSError(
            f"could not load a model config from {name!r}: {exc}. Pass a Hugging Face hub id "
            "or a local directory holding config.json (build a tiny one with "
            "`shiftdc make-tiny-model`)."
        ) from exc
    adapter_cls = adapter_for_config(config)
    check_available(adapter_cls)
    torch_dtype = _resolve_dtype(dtype, device)
    dispatch = dispatch_kwargs(device_map, max_memory, offload_folder)
    model = AutoModelForImageTextToText.from_pretrained(
        name, dtype=torch_dtype, **dispatch, **from_pretrained_kwargs
    )
    if not dispatch:
        model = model.to(device)
    model.eval()
    processor = adapter_cls.load_processor(name, config, **from_pretrained_kwargs)
    tok = getattr(processor, "tokenizer", None)
    if tok is not None:
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
    return VLM(model=model, processor=processor, adapter=adapter_cls(model, processor), name=name)
