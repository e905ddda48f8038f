"""Query-aware self-captions (the text-only counterpart's image description), cached on disk."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from shiftdc.method.sample import Sample
from shiftdc.models.generation import batches, decode_new, generation_kwargs, to_device
from shiftdc.models.loading import VLM
from shiftdc.records import atomic

CAPTION_PROMPT = "Based on the given Request, describe the image. Request: {query}"
DEFAULT_MAX_NEW_TOKENS = 128


def default_cache_dir() -> Path:
    """$SHIFTDC_CACHE/captions, else ~/.cache/shiftdc/captions."""
    root = os.environ.get("SHIFTDC_CACHE") or Path.home() / ".cache" / "shiftdc"
    return Path(root) / "captions"


def image_digest(sample: Sample) -> str:
    """Hash of the image's pixels, size and mode."""
    if sample.image is None:
        raise ValueError(f"sample {sample.id!r} has no image to caption")
    im = sample.image
    h = hashlib.sha256(f"{im.mode}|{im.size}|".encode())
    h.update(im.tobytes())
    return h.hexdigest()


class Captioner:
    """Greedy query-aware self-captions, cached by (model, image, query, prompt, length)."""

    def __init__(
        self,
        vlm: VLM,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        prompt: str = CAPTION_PROMPT,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        batch_size: int = 8,
        progress: bool = True,
    ) -> None:
        if "{query}" not in prompt:
            raise ValueError("caption prompt must contain '{query}'")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        self.vlm = vlm
        self.max_new_tokens = max_new_tokens
        self.prompt = prompt
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.use_cache = use_cache
        self.batch_size = batch_size
        self.progress = progress
        self.generated = 0  # captions produced by the model (not from the cache) so far

    def key(self, sample: Sample) -> str:
        """Cache key of one caption."""
        parts = [
            self.vlm.fingerprint,
            image_digest(sample),
            sample.prompt,
            self.prompt,
            str(self.max_new_tokens),
        ]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.json"

    def _read(self, key: str) -> str | None:
        p = self._path(key)
        if not (self.use_cache and p.is_file()):
            return None
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            return None  # a damaged or partial entry is recomputed
        ok = isinstance(rec, dict) and rec.get("key", key) == key
        return rec["caption"] if ok and isinstance(rec.get("caption"), str) else None

    def _write(self, key: str, sample: Sample, caption: str) -> None:
        if not self.use_cache:
            return
        rec = {"caption": caption, "query": sample.prompt, "model": self.vlm.name, "key": key}
        atomic.write_text(self._path(key), json.dumps(rec, ensure_ascii=False))

    def caption(self, samples: Sequence[Sample]) -> list[str]:
        """One caption per sample (samples must have images), from cache where possible."""
        keys = [self.key(s) for s in samples]
        out: list[str | None] = [self._read(k) for k in keys]
        todo = [i for i, c in enumerate(out) if c is None]
        chunks = list(batches(todo, self.batch_size))
        for chunk in tqdm(chunks, desc="captions", disable=not self.progress or not chunks):
            texts = self._generate([samples[i] for i in chunk])
            for i, text in zip(chunk, texts, strict=True):
                out[i] = text
                self._write(keys[i], samples[i], text)
            self.generated += len(chunk)
        return [c or "" for c in out]

    def cached(self, samples: Sequence[Sample]) -> list[str | None]:
        """Captions already on disk (None where the model has to make one); reads only."""
        return [self._read(self.key(s)) for s in samples]

    def store(self, samples: Sequence[Sample], captions: Sequence[str]) -> None:
        """Record captions made elsewhere from this captioner's prompts (the shared-prefix path)."""
        for s, c in zip(samples, captions, strict=True):
            self._write(self.key(s), s, c)
        self.generated += len(samples)

    def encode(self, samples: Sequence[Sample]) -> dict[str, torch.Tensor]:
        """Model inputs of the caption prompts, on the captioner's device."""
        prompts = [self.prompt.format(query=s.prompt) for s in samples]
        return to_device(self.vlm.adapter.encode_vl(prompts, [s.image for s in samples]), self.vlm)

    @torch.no_grad()
    def _generate(self, samples: list[Sample]) -> list[str]:
        vlm = self.vlm
        inputs = self.encode(samples)
        ids = vlm.model.generate(**inputs, **generation_kwargs(vlm, self.max_new_tokens))
        return decode_new(vlm, ids, inputs["input_ids"].shape[1])
