"""SafetyDirection: per-layer safety vectors fitted on text-only requests, saved as safetensors."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from shiftdc import __version__
from shiftdc.core import diff_of_means
from shiftdc.errors import DirectionMismatchError, InputError
from shiftdc.method.layers import resolve_layers
from shiftdc.method.sample import Sample, captions_per_sample
from shiftdc.models.generation import text_activations
from shiftdc.models.loading import VLM
from shiftdc.parallel import distributed
from shiftdc.records import atomic

TENSORS_FILE = "direction.safetensors"
META_FILE = "direction.json"
#: metadata fields that must match the model a direction is applied to
CHECKED_FIELDS = ("family", "num_layers", "hidden_size", "model_fingerprint")
#: a calibrated layer's ||s^l|| must reach this fraction of the layer's mean activation norm
MIN_RELATIVE_NORM = 1e-3


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

    def without_recommendation(self) -> SafetyDirection:
        """The same direction with no stored recommendation (ShiftDC's built-in defaults)."""
        meta = {k: v for k, v in self.meta.items() if k != "recommended"}
        return SafetyDirection(self.vectors, meta)

    def recommend(self, settings: dict[str, Any], directory: str | Path | None = None) -> None:
        """Store a recommended configuration (needs mode, layers, alpha, positions); with
        `directory`, rewrite that saved direction's direction.json (the tensors are kept)."""
        problem = recommendation_problem(settings)
        if problem:
            raise InputError(f"bad recommendation: {problem}")
        self.meta["recommended"] = dict(settings)
        if directory is not None:
            path = Path(directory) / META_FILE
            if not path.is_file():
                raise InputError(f"{directory} is not a saved direction: {META_FILE} is missing")
            atomic.write_text(path, json.dumps(self.meta, indent=2))

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
            layers = resolve_layers(list(layers), vlm.num_layers)
        safe_p = text_only_prompts(safe, safe_captions)
        unsafe_p = text_only_prompts(unsafe, unsafe_captions)
        if sorted(safe_p) == sorted(unsafe_p):
            raise InputError(
                "the safe and unsafe sets hold the same requests, so their difference (the "
                "direction) is zero; fit on harmless requests vs harmful ones"
            )
        if distributed.active():  # under torchrun: shard the extraction, all-reduce the sums
            from shiftdc.parallel.sharded_fit import sharded_diff_of_means

            vectors, scale = sharded_diff_of_means(vlm, safe_p, unsafe_p, batch_size, progress)
        else:
            acts = text_activations(
                vlm,
                safe_p + unsafe_p,
                batch_size=batch_size,
                progress=progress,
                desc="fit direction",
            )
            vectors = diff_of_means(acts[: len(safe_p)], acts[len(safe_p) :])
            scale = acts.float().norm(dim=-1).mean(0)  # [L] mean activation norm per layer
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
            "activation_norm": [round(float(x), 6) for x in scale],
            "version": __version__,
        }
        direction = cls(vectors=vectors, meta=meta)
        direction.check_usable(what="the fitted direction was not saved")
        return direction

    def degenerate_layers(self, layers: Sequence[int] | None = None) -> list[int]:
        """Calibration layers (default: the direction's own) where s^l is (near) zero.

        Near zero: ||s^l|| < MIN_RELATIVE_NORM x the layer's mean activation norm at fit time
        (meta "activation_norm"); directions saved without it compare with their largest
        ||s^l|| instead. A zero vector always counts.
        """
        chosen = layers if layers is not None else self.layers
        idx = list(chosen) if chosen is not None else default_layers(self.num_layers)
        norms = self.vectors.norm(dim=-1)
        scale = self.meta.get("activation_norm")
        ref = [float(x) for x in scale] if scale else [float(norms.max())] * self.num_layers
        return [
            i
            for i in idx
            if 0 <= i < self.num_layers
            and (norms[i] == 0 or float(norms[i]) < MIN_RELATIVE_NORM * ref[i])
        ]

    def check_usable(self, layers: Sequence[int] | None = None, what: str = "") -> None:
        """Raise InputError if a calibration layer's direction is degenerate (see above)."""
        bad = self.degenerate_layers(layers)
        if bad:
            raise InputError(
                f"degenerate safety direction: zero or near-zero norm (below "
                f"{MIN_RELATIVE_NORM:g} x the activation scale) at layers {bad}"
                + (f"; {what}" if what else "")
                + "; ShiftDC would change nothing there. Fit it on clearly harmless vs "
                "clearly harmful requests"
            )

    def save(self, directory: str | Path) -> Path:
        """Write direction.safetensors + direction.json into `directory`."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        with atomic.atomic_path(d / TENSORS_FILE) as tmp:  # ranks may save it at once
            save_file({"vectors": self.vectors.contiguous()}, str(tmp))
        atomic.write_text(d / META_FILE, json.dumps(self.meta, indent=2))
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
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, OSError) as exc:
            raise InputError(f"cannot read {d / META_FILE}: {exc}; refit the direction") from exc
        problem = meta_problem(meta)
        if problem:
            raise InputError(f"{d / META_FILE} is not a direction's metadata: {problem}")
        try:
            vectors = load_file(str(d / TENSORS_FILE))["vectors"]
        except (SafetensorError, KeyError, OSError, ValueError) as exc:
            raise InputError(
                f"cannot read {d / TENSORS_FILE} (truncated or not written by shiftdc: "
                f"{exc}); refit the direction"
            ) from exc
        if vectors.ndim == 2 and not vectors.is_floating_point():
            raise InputError(f"{d / TENSORS_FILE}: vectors are {vectors.dtype}, not floats")
        direction = cls(vectors=vectors, meta=meta)
        if tuple(vectors.shape) != (meta.get("num_layers"), meta.get("hidden_size")):
            raise InputError(
                f"{d}: tensor shape {tuple(vectors.shape)} disagrees with its metadata "
                f"(num_layers={meta.get('num_layers')}, hidden_size={meta.get('hidden_size')})"
            )
        direction.check_usable(what=f"in {d}")
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


def meta_problem(meta: Any) -> str | None:
    """What is wrong with a loaded direction.json (None if its shape is right)."""
    if not isinstance(meta, dict):
        return f"expected a JSON object, got {type(meta).__name__}"
    for key, kind in (("family", str), ("model_fingerprint", str)):
        if not isinstance(meta.get(key), kind):
            return f"{key!r} must be a string, got {meta.get(key)!r}"
    for key in ("num_layers", "hidden_size"):
        v = meta.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            return f"{key!r} must be a positive integer, got {v!r}"
    layers = meta.get("layers")
    if layers is not None and not _index_list(layers):
        return f"'layers' must be null or a list of layer indices, got {layers!r}"
    scale = meta.get("activation_norm")
    if scale is not None and (
        not isinstance(scale, list)
        or len(scale) != meta["num_layers"]
        or any(
            isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x)
            for x in scale
        )
    ):
        return "'activation_norm' must list one finite number per layer"
    rec = meta.get("recommended")
    if rec is not None:
        problem = recommendation_problem(rec)
        if problem:
            return f"'recommended' (from shiftdc tune): {problem}; rerun tune or remove it"
    return None


def _index_list(value: Any) -> bool:
    """Whether `value` is a non-empty JSON list of integers."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(i, int) and not isinstance(i, bool) for i in value)
    )


def recommendation_problem(rec: Any) -> str | None:
    """What is wrong with a stored recommendation's shape (None if right); names and layer
    bounds are checked where it is used (`shiftdc.method.settings`)."""
    if not isinstance(rec, dict):
        return f"expected a JSON object, got {type(rec).__name__}"
    missing = [k for k in ("mode", "layers", "alpha", "positions") if k not in rec]
    if missing:
        return f"needs {', '.join(missing)}"
    for key in ("mode", "positions"):
        if not isinstance(rec[key], str):
            return f"{key!r} must be a name, got {rec[key]!r}"
    if not _index_list(rec["layers"]):
        return f"'layers' must be a list of layer indices, got {rec['layers']!r}"
    alpha = rec["alpha"]
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, int | float)
        or not math.isfinite(alpha)
        or alpha < 0
    ):
        return f"'alpha' must be a finite number >= 0, got {alpha!r}"
    return None


def default_layers(num_layers: int) -> list[int]:
    """L//2 .. L-1, the authors' default calibration range."""
    return list(range(num_layers // 2, num_layers))


def shipped_direction_of(vlm: VLM) -> Path | None:
    """The direction that ships with this model, recommendation included: the testbed's, when
    `vlm` was loaded from a testbed built from the committed weights; None for other models."""
    from shiftdc.testbed.build import shipped_direction_for  # the testbed is an optional part

    return shipped_direction_for(vlm.name)


def check_disjoint_from_direction_set(evaluated: Sequence[Any], seed: int) -> int:
    """Raise when the built-in direction set shares a request with `evaluated`; its size."""
    from shiftdc.data import direction_set, shared_requests

    safe, unsafe = direction_set(seed=seed)
    overlap = shared_requests(list(safe) + list(unsafe), list(evaluated))
    if overlap:
        raise InputError(
            f"the built-in direction set shares {len(overlap)} requests with the evaluated "
            f"items (e.g. {sorted(overlap)[0]!r}); pass --direction with a disjoint direction"
        )
    return len(safe) + len(unsafe)


def fit_builtin_direction(
    vlm: VLM, evaluated: Sequence[Any], run_dir: Path, seed: int, batch_size: int
) -> tuple[SafetyDirection, str]:
    """Fit on the built-in direction set after checking it shares no request with `evaluated`."""
    from shiftdc.data import direction_set

    check_disjoint_from_direction_set(evaluated, seed)
    safe, unsafe = direction_set(seed=seed)
    direction = SafetyDirection.fit(
        vlm,
        [i.to_sample() for i in safe],
        [i.to_sample() for i in unsafe],
        batch_size=batch_size,
        progress=False,
    )
    path = direction.save(run_dir / "direction")
    note = (
        f"Safety direction fitted on the built-in direction set ({len(safe)} safe + "
        f"{len(unsafe)} unsafe text-only requests with ground-truth captions), checked "
        f"disjoint from all {len(evaluated)} evaluated items (no shared request text); "
        f"saved to {path.name}/."
    )
    return direction, note


def load_or_fit_direction(
    vlm: VLM,
    path: str | Path | None,
    evaluated: Sequence[Any],
    out_dir: Path,
    seed: int,
    batch_size: int,
) -> tuple[SafetyDirection, str]:
    """The saved direction at `path`; without one, the direction that ships with the model
    (`shipped_direction_of`), else one fitted on the built-in direction set into
    OUT/direction (`fit_builtin_direction`); with a note saying which."""
    if path is None and (shipped := shipped_direction_of(vlm)) is not None:
        check_disjoint_from_direction_set(evaluated, seed)
        d = SafetyDirection.load(shipped, vlm)
        return d, (
            f"the testbed's shipped direction ({shipped}), fitted on the built-in direction "
            f"set, checked disjoint from all {len(evaluated)} evaluated items"
            + ("; its recommendation applies" if d.recommended else "")
        )
    if path is not None:
        d = SafetyDirection.load(path, vlm)
        n_safe, n_unsafe = d.meta.get("n_safe"), d.meta.get("n_unsafe")
        return d, f"loaded from {path} ({n_safe} safe + {n_unsafe} unsafe requests)"
    return fit_builtin_direction(vlm, evaluated, out_dir, seed, batch_size)
