"""On-disk cache of collected activations: safetensors plus the JSON key they were made under."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load_file, save_file

from shiftdc.method.captions import Captioner, default_cache_dir
from shiftdc.records import atomic

if TYPE_CHECKING:
    from shiftdc.data.item import EvalItem
    from shiftdc.models.loading import VLM


FORMAT = 1
TENSORS_FILE = "activations.safetensors"
KEY_FILE = "key.json"


def default_activation_dir() -> Path:
    """$SHIFTDC_CACHE/activations, else ~/.cache/shiftdc/activations."""
    return default_cache_dir().parent / "activations"


def _digest(obj: object, n: int = 16) -> str:
    """Short sha256 of an object's canonical JSON."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def items_digest(items: Sequence[EvalItem]) -> str:
    """Hash of what decides an item's inputs: id, prompt, given caption and labels."""
    return _digest([[it.id, it.prompt, it.caption, it.labels()] for it in items])


def before_key(
    vlm: VLM, groups: Mapping[str, Sequence[EvalItem]], captions: str, captioner: Captioner
) -> dict[str, Any]:
    """Cache key of the four sets: model fingerprint and dtype, item ids and data, captions."""
    self_captioned = any(
        captions == "self" or it.caption is None for g in groups.values() for it in g
    )
    caption_key: dict[str, Any] = {"mode": captions}
    if self_captioned:
        caption_key["self"] = {
            "prompt": captioner.prompt,
            "max_new_tokens": captioner.max_new_tokens,
        }
    return {
        "format": FORMAT,
        "model": vlm.fingerprint,
        "dtype": str(vlm.dtype).removeprefix("torch."),
        "ids": {k: [it.id for it in g] for k, g in groups.items()},
        "data": {k: items_digest(g) for k, g in groups.items()},
        "captions": caption_key,
    }


def after_key(before: Mapping[str, Any], sdc: Any) -> dict[str, Any]:
    """Cache key of the calibrated VL sets: the before key plus the ShiftDC settings."""
    vectors = sdc.direction.vectors.float().contiguous().numpy().tobytes()
    return {
        **before,
        "shiftdc": {
            "mode": sdc.mode,
            "alpha": sdc.alpha,
            "layers": list(sdc.layers),
            "direction": hashlib.sha256(vectors).hexdigest()[:16],
        },
    }


class ActivationCache:
    """Directory of entries `<root>/<hash of key>/` holding activations.safetensors + key.json."""

    def __init__(self, root: str | Path | None = None, enabled: bool = True) -> None:
        self.root = Path(root) if root is not None else default_activation_dir()
        self.enabled = enabled

    def path(self, key: Mapping[str, Any]) -> Path:
        """Directory of the entry for `key`."""
        return self.root / _digest(key, 24)

    def load(self, key: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor] | None, dict[str, Any]]:
        """(tensors, meta) stored under `key`, or (None, {}) when absent, stale or damaged."""
        d = self.path(key)
        if not (self.enabled and (d / KEY_FILE).is_file() and (d / TENSORS_FILE).is_file()):
            return None, {}
        try:
            stored = json.loads((d / KEY_FILE).read_text(encoding="utf-8"))
            if stored.get("key") != json.loads(json.dumps(key, default=str)):
                return None, {}
            digest = stored.get("tensors_sha256")
            if digest is not None and digest != _file_sha256(d / TENSORS_FILE):
                return None, {}  # partial, or another writer's: recomputed
            return load_file(str(d / TENSORS_FILE)), dict(stored.get("meta", {}))
        except Exception:  # noqa: BLE001 - any damage (safetensors errors included) recomputes
            return None, {}

    def save(
        self, key: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]
    ) -> Path | None:
        """Write an entry atomically (tensors first, key last); return its directory."""
        if not self.enabled:
            return None
        d = self.path(key)
        with atomic.atomic_path(d / TENSORS_FILE) as tmp:
            save_file({k: v.float().contiguous() for k, v in tensors.items()}, str(tmp))
            digest = _file_sha256(tmp)
        record = {"key": key, "meta": meta, "tensors_sha256": digest}
        text = json.dumps(record, indent=1, ensure_ascii=False, default=str)
        atomic.write_text(d / KEY_FILE, text)
        return d


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
