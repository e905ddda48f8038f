"""SafetyDirection: per-layer safety vectors fitted on text-only requests, saved as safetensors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from shiftdc import __version__
from shiftdc.core import diff_of_means
from shiftdc.errors import DirectionMismatchError, InputError
from shiftdc.generation import text_activations
from shiftdc.layers import parse_spec, resolve_layers
from shiftdc.models.loading import VLM
from shiftdc.sample import Sample, captions_per_sample

TENSORS_FILE = "direction.safetensors"
META_FILE = "direction.json"
#: metadata fields that must match the model a direction is applied to
CHECKED_FIELDS = ("family", "num_layers", "hidden_size", "model_fingerprint")


def data_fingerprint(safe: Sequence[str], unsafe: Sequence[str]) -> str:
    """Hash of the text-only prompts a direction was fitted on."""
    h = hashlib.sha256(json.dumps([sorted(safe), sorted(unsafe)]).encode())
    return h.hexdigest()[:16]


def text_only_prompts(
    samples: Sequence[Sample], captions: Sequence[str | None] | None
) -> list[str]:
    """t_tt for each sample: the query plus its caption where the sample has an image."""
    out = []
    for s, c in zip(samples, captions_per_sample(samples, captions), strict=True):
        cap = c if c is not None else s.caption
        if s.image is not None and cap is None:
            raise InputError(f"sample {s.id!r} has an image but no caption; caption it first")
        out.append(s.text_only_prompt(cap))
    return out


@dataclass
class SafetyDirection:
    """s^l = mean(safe) - mean(unsafe) of last-token text-only activations, for every layer."""

    vectors: torch.Tensor  # [num_layers, hidden] float32
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2:
            raise InputError(f"direction must be [layers, hidden], got {tuple(self.vectors.shape)}")
        if not torch.isfinite(self.vectors).all():
            bad = sorted({int(i) for i in (~torch.isfinite(self.vectors)).nonzero()[:, 0]})
            raise InputError(f"direction has NaN/inf values at layers {bad}; refit it")
        self.vectors = self.vectors.float()

    @property
    def num_layers(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def layers(self) -> list[int] | None:
        """Calibration layers chosen at fit time (None: use the default)."""
        return self.meta.get("layers")

    @property
    def recommended(self) -> dict[str, Any] | None:
        """The configuration `shiftdc tune` recommended for this direction, if any:
        {mode, layers, alpha, positions, rule, source}; the default wherever ShiftDC runs."""
        return self.meta.get("recommended")

    def recommend(self, settings: dict[str, Any], directory: str | Path | None = None) -> None:
        """Store a recommended configuration (needs mode, layers, alpha, positions); with
        `directory`, rewrite that saved direction's direction.json (the tensors are kept)."""
        missing = [k for k in ("mode", "layers", "alpha", "positions") if k not in settings]
        if missing:
            raise InputError(f"a recommendation needs {', '.join(missing)}")
        self.meta["recommended"] = dict(settings)
        if directory is not None:
            path = Path(directory) / META_FILE
            if not path.is_file():
                raise InputError(f"{directory} is not a saved direction: {META_FILE} is missing")
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.meta, indent=2), encoding="utf-8")
            tmp.replace(path)

    @classmethod
    def fit(
        cls,
        vlm: VLM,
        safe: Sequence[Sample],
        unsafe: Sequence[Sample],
        safe_captions: Sequence[str | None] | None = None,
        unsafe_captions: Sequence[str | None] | None = None,
        layers: Sequence[int] | None = None,
        batch_size: int = 8,
        progress: bool = True,
    ) -> SafetyDirection:
        """Fit from text-only versions of safe and unsafe requests (images replaced by captions)."""
        if not safe or not unsafe:
            raise InputError("fitting needs at least one safe and one unsafe sample")
        if layers is not None:
            layers = validate_layers(layers, vlm.num_layers)
        safe_p = text_only_prompts(safe, safe_captions)
        unsafe_p = text_only_prompts(unsafe, unsafe_captions)
        acts = text_activations(
            vlm, safe_p + unsafe_p, batch_size=batch_size, progress=progress, desc="fit direction"
        )
        vectors = diff_of_means(acts[: len(safe_p)], acts[len(safe_p) :])
        meta = {
            "model": vlm.name,
            "family": vlm.family,
            "num_layers": vlm.num_layers,
            "hidden_size": vlm.hidden_size,
            "dtype": str(vlm.dtype).removeprefix("torch."),
            "model_fingerprint": vlm.fingerprint,
            "n_safe": len(safe_p),
            "n_unsafe": len(unsafe_p),
            "data_fingerprint": data_fingerprint(safe_p, unsafe_p),
            "layers": list(layers) if layers is not None else None,
            "version": __version__,
        }
        return cls(vectors=vectors, meta=meta)

    def save(self, directory: str | Path) -> Path:
        """Write direction.safetensors + direction.json into `directory`."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        save_file({"vectors": self.vectors.contiguous()}, str(d / TENSORS_FILE))
        (d / META_FILE).write_text(json.dumps(self.meta, indent=2), encoding="utf-8")
        return d

    @classmethod
    def load(cls, directory: str | Path, vlm: VLM | None = None) -> SafetyDirection:
        """Read a saved direction; with `vlm`, check it fits that model."""
        d = Path(directory)
        for name in (TENSORS_FILE, META_FILE):
            if not (d / name).is_file():
                raise InputError(f"{d} is not a saved direction: {name} is missing")
        try:
            meta = json.loads((d / META_FILE).read_text(encoding="utf-8"))
            vectors = load_file(str(d / TENSORS_FILE))["vectors"]
        except (json.JSONDecodeError, KeyError, OSError) as exc:
            raise InputError(f"cannot read direction in {d}: {exc}") from exc
        direction = cls(vectors=vectors, meta=meta)
        if tuple(vectors.shape) != (meta.get("num_layers"), meta.get("hidden_size")):
            raise InputError(
                f"{d}: tensor shape {tuple(vectors.shape)} disagrees with its metadata "
                f"(num_layers={meta.get('num_layers')}, hidden_size={meta.get('hidden_size')})"
            )
        if vlm is not None:
            direction.check_fits(vlm)
        return direction

    def check_fits(self, vlm: VLM) -> None:
        """Raise DirectionMismatchError naming the first field that differs from `vlm`."""
        actual = {
            "family": vlm.family,
            "num_layers": vlm.num_layers,
            "hidden_size": vlm.hidden_size,
            "model_fingerprint": vlm.fingerprint,
        }
        for key in CHECKED_FIELDS:
            if self.meta.get(key) != actual[key]:
                raise DirectionMismatchError(
                    f"direction does not fit this model: {key} is {self.meta.get(key)!r} in the "
                    f"direction (fitted on {self.meta.get('model')!r}) but {actual[key]!r} for "
                    f"{vlm.name!r}. Fit a direction on this model with `shiftdc fit`."
                )


def default_layers(num_layers: int) -> list[int]:
    """L//2 .. L-1, the authors' default calibration range."""
    return list(range(num_layers // 2, num_layers))


def validate_layers(layers: Sequence[int], num_layers: int) -> list[int]:
    """Sorted unique layer indices in [0, num_layers) (negative ones count from the end)."""
    return resolve_layers(list(layers), num_layers)


def parse_layer_range(spec: str) -> list[int]:
    """'A:B' (0-based, inclusive) or 'A,B,C' -> a list of layer indices, as written.

    Use `resolve_layers(spec, num_layers)` where the model is known: it checks bounds
    before expanding a range and normalises negative indices.
    """
    return [i for lo, hi in parse_spec(spec) for i in range(lo, hi + 1)]
