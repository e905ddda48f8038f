"""The micro-batching engine: one worker thread runs compatible requests as one batch.

Requests that arrive within `batch_wait_ms` of the first waiting one and share its batch
key (image or not, guard settings, sampling settings) run as one batched `generate` of up
to `max_batch_size` rows, each row with its own ShiftDC correction (`ShiftDC.calibrate` +
`ShiftDC.applied`), its own token limit and stop strings, and its own stream (`rows.py`).
Nothing of one request (correction, caption, sampling state) is shared with another:
corrections are per row, captions are per (image, query), and a seeded request runs alone.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image
from transformers import StoppingCriteriaList

from shiftdc.core import scalar_projection
from shiftdc.method.captions import Captioner
from shiftdc.method.direction import SafetyDirection
from shiftdc.method.pipeline import Calibration, ShiftDC
from shiftdc.method.sample import Sample
from shiftdc.models.loading import VLM
from shiftdc.serve.openai_errors import APIError
from shiftdc.serve.per_layer import per_layer_block
from shiftdc.serve.prometheus import Metrics
from shiftdc.serve.rows import Row, RowRouter, RowStops

log = logging.getLogger("shiftdc.serve")


@dataclass
class Guard:
    """The guard settings one request runs under (the operator's, or permitted overrides)."""

    enabled: bool
    mode: str
    alpha: float
    source: str = "operator"  # who decided `enabled`/`mode`/`alpha`: operator | client


@dataclass
class Job:
    """One chat request on its way through the engine; events go back to its event loop."""

    id: str
    prompt: str
    image: Image.Image | None
    max_tokens: int
    stops: list[str]
    temperature: float
    top_p: float
    seed: int | None
    guard: Guard
    return_caption: bool
    loop: asyncio.AbstractEventLoop
    prompt_tokens: int = 0
    return_layers: bool = False
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def post(self, kind: str, payload: Any) -> None:
        self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, payload))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def key(self) -> tuple:
        """Requests with equal keys may share a batch."""
        guarded = self.guard.enabled and self.image is not None
        guard = (self.guard.mode, self.guard.alpha) if guarded else None
        if self.greedy:
            sampling: tuple = ("greedy",)
        elif self.seed is not None:
            sampling = ("seeded", self.id)  # reproducible only alone
        else:
            sampling = ("sample", self.temperature, self.top_p)
        return (self.image is not None, guarded, guard, sampling)


class Engine:
    """Queue + worker thread; `submit` from the event loop, results come back as events."""

    def __init__(
        self,
        vlm: VLM,
        direction: SafetyDirection,
        captioner: Captioner,
        metrics: Metrics,
        layers: Sequence[int] | None = None,
        positions: str | None = None,
        batch_wait_ms: float = 10.0,
        max_batch_size: int = 8,
        max_queue: int = 64,
    ) -> None:
        self.vlm = vlm
        self.direction = direction
        self.captioner = captioner
        self.metrics = metrics
        self.layers = layers
        self.positions = positions
        self.batch_wait = batch_wait_ms / 1000.0
        self.max_batch_size = max_batch_size
        self.max_queue = max_queue
        self._pending: list[Job] = []
        self._cond = threading.Condition()
        self._closing = False
        self._guards: dict[tuple[str | None, float | None], ShiftDC] = {}
        self._thread = threading.Thread(target=self._loop, name="shiftdc-engine", daemon=True)
        tok = vlm.adapter.tokenizer
        eos = vlm.model.generation_config.eos_token_id
        self.eos_ids = {int(e) for e in (eos if isinstance(eos, list) else [eos]) if e is not None}
        if tok.eos_token_id is not None:
            self.eos_ids.add(int(tok.eos_token_id))

    def shiftdc(self, mode: str | None, alpha: float | None) -> ShiftDC:
        """The ShiftDC of these settings (one per settings; it keeps no per-request state).

        None: the direction's recommendation, else the default (`shiftdc.method.settings`)."""
        key = (mode, alpha)
        if key not in self._guards:
            sdc = ShiftDC(
                self.vlm,
                self.direction,
                layers=self.layers,
                mode=mode,
                alpha=alpha,
                positions=self.positions,
                captioner=self.captioner,
                batch_size=self.max_batch_size,
                progress=False,
            )
            self._guards[key] = self._guards.setdefault((sdc.mode, sdc.alpha), sdc)
        return self._guards[key]

    # --- queue ----------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def submit(self, job: Job) -> None:
        with self._cond:
            if self._closing:
                raise APIError(503, "the server is shutting down; retry on another instance")
            if len(self._pending) >= self.max_queue:
                raise APIError(
                    429,
                    f"the queue is full ({self.max_queue} requests); retry shortly",
                    code="queue_full",
                )
            self._pending.append(job)
            self.metrics.queue_depth.set(len(self._pending))
            self._cond.notify()

    def close(self, timeout: float | None = None) -> None:
        """Stop taking requests, finish every queued one, then stop the worker."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _next_batch(self) -> list[Job] | None:
        with self._cond:
            while True:
                self._pending = [j for j in self._pending if not j.cancelled.is_set()]
                if self._pending:
                    break
                if self._closing:
                    return None
                self._cond.wait()
            key = self._pending[0].key()
            deadline = time.monotonic() + self.batch_wait
            while not self._closing:
                same = sum(1 for j in self._pending if j.key() == key)
                left = deadline - time.monotonic()
                if same >= self.max_batch_size or left <= 0:
                    break
                self._cond.wait(left)
            batch, rest = [], []
            for j in self._pending:
                if j.key() == key and len(batch) < self.max_batch_size and not j.cancelled.is_set():
                    batch.append(j)
                elif not j.cancelled.is_set():
                    rest.append(j)
            self._pending = rest
            self.metrics.queue_depth.set(len(rest))
            return batch

    def _loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            if not batch:
                continue
            self.metrics.batch_size.observe(len(batch))
            try:
                self._run(batch)
            except Exception as exc:  # a failed batch fails its requests, never the server
                log.exception("batch of %d failed", len(batch))
                for job in batch:
                    job.post("error", APIError(500, f"generation failed: {exc}"))

    # --- one batch ------------------------------------------------------------------
    @torch.no_grad()
    def _run(self, batch: list[Job]) -> None:
        first = batch[0]
        tok = self.vlm.adapter.tokenizer
        rows = [
            Row(
                tok,
                j.max_tokens,
                j.stops,
                self.eos_ids,
                on_delta=lambda d, j=j: j.post("delta", d),
                cancelled=j.cancelled.is_set,
            )
            for j in batch
        ]
        kw: dict[str, Any] = dict(
            max_new_tokens=max(j.max_tokens for j in batch),
            num_beams=1,
            pad_token_id=tok.pad_token_id,
            streamer=RowRouter(rows),
            stopping_criteria=StoppingCriteriaList([RowStops(rows)]),
        )
        if first.greedy:
            kw["do_sample"] = False
        else:
            kw.update(do_sample=True, temperature=first.temperature, top_p=first.top_p)
            torch.manual_seed(first.seed if first.seed is not None else secrets.randbits(62))
        guard = first.guard
        if first.image is not None and guard.enabled:
            blocks = self._generate_guarded(batch, kw)
        else:
            self._generate_plain(batch, kw)
            reason = (
                "no image in the request"
                if first.image is None
                else (f"guard disabled by the {guard.source}")
            )
            blocks = [{"calibrated": False, "reason": reason} for _ in batch]
        for job, row, block in zip(batch, rows, blocks, strict=True):
            text = row.close()
            self.metrics.tokens.inc(len(row.tokens))
            job.post(
                "done",
                {"text": text, "finish": row.finish, "tokens": len(row.tokens), "shiftdc": block},
            )

    def _generate_plain(self, batch: list[Job], kw: dict[str, Any]) -> None:
        ad = self.vlm.adapter
        prompts = [j.prompt for j in batch]
        if batch[0].image is None:
            inputs = ad.encode_text(prompts)
        else:
            inputs = ad.encode_vl(prompts, [j.image for j in batch])
        self.vlm.model.generate(**_on_model(inputs, self.vlm), **kw)

    def _generate_guarded(self, batch: list[Job], kw: dict[str, Any]) -> list[dict]:
        g = batch[0].guard
        sdc = self.shiftdc(g.mode, g.alpha)
        samples = [Sample(j.id, j.prompt, j.image) for j in batch]
        hits = sum(c is not None for c in self.captioner.cached(samples))
        self.metrics.caption_hits.inc(hits)
        self.metrics.caption_misses.inc(len(samples) - hits)
        captions = sdc.captions_for(samples)
        cal, gen = sdc.calibrate(samples, captions)
        with sdc.applied(cal):
            self.vlm.model.generate(**gen, **kw)
        return [
            guard_block(
                sdc, cal, b, captions[b] if j.return_caption else None, g.source, j.return_layers
            )
            for b, j in enumerate(batch)
        ]


def guard_block(
    sdc: ShiftDC,
    cal: Calibration,
    row: int,
    caption: str | None,
    source: str,
    all_layers: bool = False,
) -> dict[str, Any]:
    """The response's `shiftdc` block: the same numbers `ShiftResult` carries, for one row."""
    s = sdc.direction.vectors[cal.layers]
    m = cal.x_vl[row, cal.layers] - cal.x_tt[row, cal.layers]
    along = scalar_projection(m, s) * s.norm(dim=-1)
    block: dict[str, Any] = {
        "calibrated": True,
        "mode": sdc.mode,
        "alpha": sdc.alpha,
        "layers": list(cal.layers),
        "shift_norm": m.norm(dim=-1).tolist(),
        "shift_along_s": along.tolist(),
        "correction_norm": cal.corrections[row].norm(dim=-1).tolist(),
        "settings_from": source,
    }
    if caption is not None:
        block["caption"] = caption
    if all_layers:
        block["per_layer"] = per_layer_block(sdc.direction.vectors, cal, row)
    return block


def _on_model(inputs: dict[str, Any], vlm: VLM) -> dict[str, Any]:
    """Tensors on the model's device; floating ones in its dtype (pixel values)."""
    out = {}
    for k, v in inputs.items():
        if isinstance(v, torch.Tensor):
            v = v.to(vlm.device)
            v = v.to(vlm.dtype) if v.is_floating_point() else v
        out[k] = v
    return out
