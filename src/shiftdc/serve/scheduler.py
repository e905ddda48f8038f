"""The slot engine: iteration-level scheduling, captions decoded in the same steps as answers.

Up to `max_batch_size` requests hold a slot each. Every decode step runs every decoding
row once (`slots.SlotBatch`): caption rows of newly admitted requests beside answer rows of
calibrated ones, each with its own cache rows, position, correction (none for a caption),
sampling state, token limit, stop strings and stream. Between steps the worker admits
waiting requests into free slots and runs prefill work in chunks of `prefill_chunk`
tokens: a new request's image prefix (shared by its caption and its answer), its caption
prompt; a captioned request's text-only pass, the rest of its answer prompt and the
calibration at its last token. A slot frees as soon as its request ends or its client
leaves. Each step is recorded (rows by kind, waiting requests, free slots) in `steps` and,
when a path is given, as one JSON line per step.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Generator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import torch

from shiftdc.method.captions import Captioner
from shiftdc.method.direction import SafetyDirection, text_only_prompts
from shiftdc.method.modes import Step, get_mode
from shiftdc.method.positions import get_positions
from shiftdc.method.results import Calibration
from shiftdc.method.sample import Sample
from shiftdc.models.fastpath import SharedPrefix, rewind
from shiftdc.models.generation import text_activations, to_device
from shiftdc.models.loading import VLM
from shiftdc.serve.engine import Engine, Job, guard_block
from shiftdc.serve.openai_errors import APIError
from shiftdc.serve.prometheus import Metrics
from shiftdc.serve.rows import Row
from shiftdc.serve.slots import SlotBatch, prefill, slots_supported

if TYPE_CHECKING:
    from transformers import Cache

    from shiftdc.method.pipeline import ShiftDC
    from shiftdc.models.adapter import Inputs

log = logging.getLogger("shiftdc.serve")
STEP_HISTORY = 10_000  # steps kept in memory (`steps`); the log file keeps all


@dataclass(eq=False)
class Active:
    """One request holding a slot: the row it decodes now (its caption, then its answer)."""

    job: Job
    kind: str  # "caption" | "answer" | "plain"
    row: Row
    token: int  # the pending input token
    position: int  # that token's position
    generator: torch.Generator | None
    corrections: dict[int, torch.Tensor] = field(default_factory=dict)
    sdc: ShiftDC | None = None
    sample: Sample | None = None
    answer: Inputs | None = None  # the answer prompt (guarded requests)
    prefix: Cache | None = None  # the shared image prefix, kept for the answer
    prefix_len: int = 0
    caption: str | None = None
    block: dict[str, Any] = field(default_factory=dict)


Task = Generator[int, None, "Active | None"]


class SlotEngine(Engine):
    """Queue + one worker thread that schedules per decode step (same interface as Engine)."""

    def __init__(
        self,
        vlm: VLM,
        direction: SafetyDirection,
        captioner: Captioner,
        metrics: Metrics,
        layers: Sequence[int] | None = None,
        positions: str | None = None,
        max_batch_size: int = 8,
        max_queue: int = 64,
        prefill_chunk: int = 512,
        step_log: Path | None = None,
        **_: Any,
    ) -> None:
        super().__init__(
            vlm, direction, captioner, metrics, layers, positions, 0.0, max_batch_size, max_queue
        )
        self.prefill_chunk = prefill_chunk
        self.batch = SlotBatch(vlm)
        self.tasks: list[tuple[Job, Task]] = []  # requests in a slot, doing prefill work
        self.steps: deque[dict[str, Any]] = deque(maxlen=STEP_HISTORY)
        self._step_log_path = step_log
        self._step_log: TextIO | None = None  # opened by start, closed when the worker ends
        self._prefilled = 0  # prompt tokens run since the last step
        self._step_count = 0
        self._admitted = (0, max_batch_size)  # (waiting, free slots) after the last admission
        self._t0 = time.monotonic()
        gen_cfg = vlm.model.generation_config
        self.min_new_tokens = int(getattr(gen_cfg, "min_new_tokens", None) or 0)
        self._thread = threading.Thread(target=self._loop, name="shiftdc-slots", daemon=True)

    # --- the worker -----------------------------------------------------------------
    def _busy(self) -> int:
        return len(self.tasks) + len(self.batch)

    def _admit(self) -> bool:
        """Move waiting requests into free slots; False when the worker may stop."""
        with self._cond:
            while True:
                self._pending = [j for j in self._pending if not j.cancelled.is_set()]
                while self._pending and self._busy() < self.max_batch_size:
                    job = self._pending.pop(0)
                    self.tasks.append((job, self._start(job)))
                self.metrics.queue_depth.set(len(self._pending))
                self._admitted = (len(self._pending), self.max_batch_size - self._busy())
                if self._busy():
                    return True
                if self._closing:
                    return False
                self._cond.wait()

    def start(self) -> None:
        """Open the step log here, so a bad path fails the start, then start the worker."""
        if self._step_log_path is not None:
            self._step_log = open(self._step_log_path, "a", encoding="utf-8")  # noqa: SIM115
        super().start()

    def _loop(self) -> None:
        with self._step_log if self._step_log is not None else nullcontext():  # closed at the end
            while self._admit():
                self._run_tasks()
                if len(self.batch):
                    self._step_or_fail()

    def _step_or_fail(self) -> None:
        try:
            self._step()
        except Exception as exc:  # a failed step fails its rows, never the server
            log.exception("decode step of %d rows failed", len(self.batch))
            rows = list(self.batch.keys)
            self.batch.remove(rows)
            for a in rows:
                a.job.post("error", APIError(500, f"generation failed: {exc}"))

    def _run_tasks(self) -> None:
        """Prefill work between two steps: `prefill_chunk` tokens (all of it when no row
        decodes, as nothing waits on it)."""
        budget = self.prefill_chunk if len(self.batch) else None
        used = 0
        for job, task in list(self.tasks):
            while budget is None or used < budget:
                try:
                    if job.cancelled.is_set():
                        raise _Cancelled
                    used += next(task)
                except StopIteration as stop:
                    self.tasks.remove((job, task))
                    if stop.value is not None:
                        self._join(stop.value)
                    break
                except _Cancelled:
                    self.tasks.remove((job, task))
                    job.post("done", _cancelled())
                    break
                except Exception as exc:  # a failed prefill fails its request only
                    log.exception("prefill of %s failed", job.id)
                    self.tasks.remove((job, task))
                    job.post("error", APIError(500, f"generation failed: {exc}"))
                    break
        self._prefilled += used

    def _join(self, a: Active, cache: Cache | None = None) -> None:
        """Add a request's row to the decoding batch (its prompt cache is copied in)."""
        self.batch.add(a, a.prefix if cache is None else cache, a.corrections)
        a.prefix = None

    # --- one decode step ------------------------------------------------------------
    @torch.no_grad()
    def _step(self) -> None:
        gone = [a for a in self.batch.keys if a.job.cancelled.is_set()]
        if gone:
            self.batch.remove(gone)
            for a in gone:
                a.row.finish = "cancelled"
                self._finish(a)
            if not len(self.batch):
                return
        rows: list[Active] = list(self.batch.keys)
        t = time.monotonic()
        logits = self.batch.step([a.token for a in rows], [a.position for a in rows])
        self._record(rows, time.monotonic() - t)
        done = []
        for a, lg in zip(rows, logits, strict=True):
            a.token = self._pick(a, lg)
            a.position += 1
            a.row.add(a.token)
            if a.row.done:
                done.append(a)
        if not done:
            return
        self.batch.remove(done)
        for a in done:
            if a.kind == "caption" and a.row.finish != "cancelled":
                self.tasks.append((a.job, self._after_caption(a)))
            else:
                self._finish(a)

    def _pick(self, a: Active, logits: torch.Tensor) -> int:
        if len(a.row.tokens) < self.min_new_tokens and self.eos_ids:
            logits = logits.clone()
            logits[list(self.eos_ids)] = float("-inf")
        if a.generator is None:
            return int(logits.argmax())
        probs = torch.softmax(logits / a.job.temperature, dim=-1)
        if a.job.top_p < 1.0:
            p, idx = probs.sort(descending=True)
            drop = p.cumsum(0) - p >= a.job.top_p  # keep the fewest tokens reaching top_p
            probs = probs.scatter(0, idx[drop], 0.0)
        return int(torch.multinomial(probs, 1, generator=a.generator))

    def _record(self, rows: list[Active], seconds: float) -> None:
        kinds = [a.kind for a in rows]
        entry = {
            "step": self._step_count,
            "t": round(time.monotonic() - self._t0, 6),
            "rows": len(rows),
            "caption_rows": kinds.count("caption"),
            "answer_rows": kinds.count("answer"),
            "plain_rows": kinds.count("plain"),
            "prefilling": len(self.tasks),
            "waiting": self._admitted[0],  # as left by the last admission
            "free_slots": self._admitted[1],
            "prefill_tokens": self._prefilled,
            "seconds": round(seconds, 6),
        }
        self._prefilled = 0
        self._step_count += 1
        self.steps.append(entry)
        self.metrics.batch_size.observe(len(rows))
        if self._step_log is not None:
            self._step_log.write(json.dumps(entry) + "\n")
            self._step_log.flush()

    def _finish(self, a: Active) -> None:
        text = a.row.close()
        self.metrics.tokens.inc(len(a.row.tokens))
        if a.kind == "caption":  # the client left during its caption
            a.job.post("done", _cancelled())
            return
        payload = {"text": text, "finish": a.row.finish, "tokens": len(a.row.tokens)}
        a.job.post("done", {**payload, "shiftdc": a.block})

    # --- a request's prefill work (generators: each `yield` is a pause between steps) ---
    def _row(self, job: Job, limit: int, stops: list[str], stream: bool) -> Row:
        return Row(
            self.vlm.adapter.tokenizer,
            limit,
            stops,
            self.eos_ids,
            on_delta=(lambda d: job.post("delta", d)) if stream else (lambda d: None),
            cancelled=job.cancelled.is_set,
        )

    def _generator(self, job: Job) -> torch.Generator | None:
        if job.greedy:
            return None
        gen = torch.Generator(device=self.vlm.device)
        gen.manual_seed(job.seed if job.seed is not None else secrets.randbits(62))
        return gen

    def _start(self, job: Job) -> Task:
        if job.image is not None and job.guard.enabled:
            return self._guarded(job)
        return self._plain(job)

    def _plain(self, job: Job) -> Task:
        ad = self.vlm.adapter
        if job.image is None:
            inputs, reason = ad.encode_text([job.prompt]), "no image in the request"
        else:
            inputs = ad.encode_vl([job.prompt], [job.image])
            reason = f"guard disabled by the {job.guard.source}"
        inputs = to_device(inputs, self.vlm)
        cache = ad.prefix_cache()
        n = inputs["input_ids"].shape[1]
        yield from prefill(self.vlm, inputs, cache, 0, n - 1, self.prefill_chunk)
        return self._active(job, "plain", inputs, cache, {"calibrated": False, "reason": reason})

    def _active(
        self, job: Job, kind: str, inputs: Inputs, cache: Cache, block: dict[str, Any]
    ) -> Active:
        """A row whose prompt but its last token sits in `cache`; that token is pending."""
        pos = self.vlm.adapter.position_ids(inputs)
        assert pos is not None
        caption = kind == "caption"
        limit = self.captioner.max_new_tokens if caption else job.max_tokens
        return Active(
            job,
            kind,
            self._row(job, limit, [] if caption else job.stops, not caption),
            int(inputs["input_ids"][0, -1]),
            int(pos[0, -1]),
            None if caption else self._generator(job),
            prefix=cache,
            block=block,
        )

    def _guarded(self, job: Job) -> Task:
        vlm, ad = self.vlm, self.vlm.adapter
        sdc = self.shiftdc(job.guard.mode, job.guard.alpha)
        sample = Sample(job.id, job.prompt, job.image)
        answer = to_device(ad.encode_vl([job.prompt], [job.image]), vlm)
        cached = self.captioner.cached([sample])[0]
        self.metrics.caption_hits.inc(cached is not None)
        self.metrics.caption_misses.inc(cached is None)
        if cached is None and self.captioner.vlm is not vlm:  # another model: no shared steps
            cached = self.captioner.caption([sample])[0]
        if cached is not None:
            return (yield from self._answer(job, sdc, sample, cached, answer, None, 0))
        shared = None
        if sdc.sharing():
            shared = SharedPrefix.build(vlm, self.captioner.encode([sample]), answer)
        cache = ad.prefix_cache()
        if shared is not None:
            first, answer, start = shared.first, shared.second, shared.length
            yield from prefill(vlm, answer, cache, 0, start, self.prefill_chunk)
        else:
            first, start = self.captioner.encode([sample]), 0
        n = first["input_ids"].shape[1]
        yield from prefill(vlm, first, cache, start, n - 1, self.prefill_chunk)
        a = self._active(job, "caption", first, cache, {})
        a.sdc, a.sample, a.answer = sdc, sample, answer
        if shared is not None:  # the batch holds the caption rows; keep the prefix only
            self._join(a)
            rewind(cache, start)
            a.prefix, a.prefix_len = cache, start
            return None
        self._join(a, cache)
        return None

    def _after_caption(self, a: Active) -> Task:
        caption = a.row.text()
        assert a.sdc is not None and a.sample is not None and a.answer is not None
        self.captioner.store([a.sample], [caption])
        return (
            yield from self._answer(
                a.job, a.sdc, a.sample, caption, a.answer, a.prefix, a.prefix_len
            )
        )

    def _answer(
        self,
        job: Job,
        sdc: ShiftDC,
        sample: Sample,
        caption: str,
        answer: Inputs,
        prefix: Cache | None,
        start: int,
    ) -> Task:
        """Text-only pass, the rest of the answer prompt measured at its last token, then
        the answer row (its corrections subtracted at every step it runs)."""
        vlm, ad = self.vlm, self.vlm.adapter
        tt = text_only_prompts([sample], [caption])
        x_tt = text_activations(vlm, tt, batch_size=1)
        yield 0
        cache = ad.prefix_cache() if prefix is None else prefix
        n = answer["input_ids"].shape[1]
        mode = get_mode(sdc.mode)

        def measure(run: Any) -> tuple[torch.Tensor, torch.Tensor]:
            s = self.direction.vectors
            return mode.measure(Step(run, vlm.layers, sdc.layers, x_tt, s, sdc.alpha))

        x_vl, corr = yield from prefill(vlm, answer, cache, start, n, self.prefill_chunk, measure)
        cache.crop(-1)
        cal = Calibration(sdc.layers, x_vl, x_tt, corr)
        positions = get_positions(sdc.positions)
        if not positions.reuses_prompt_cache:  # a fresh pass, every prompt token steered
            cache = ad.prefix_cache()
            with positions.apply(vlm.layers, cal.as_dict(0)):
                for _ in prefill(vlm, answer, cache, 0, n - 1, self.prefill_chunk):
                    pass
        caption_out = caption if job.return_caption else None
        block = guard_block(sdc, cal, 0, caption_out, job.guard.source, job.return_layers)
        a = self._active(job, "answer", answer, cache, block)
        a.corrections = {layer: corr[0, j] for j, layer in enumerate(sdc.layers)}
        return a


class _Cancelled(Exception):
    """The client left while its request was still in prefill."""


def _cancelled() -> dict[str, Any]:
    return {"text": "", "finish": "cancelled", "tokens": 0, "shiftdc": {}}


def make_engine(engine: str, vlm: VLM, *args: Any, **kwargs: Any) -> Engine:
    """The engine by name; `slots` falls back to `batch` where the model's cache cannot take
    rows joining mid-flight (the reason is logged)."""
    if engine == "slots":
        why = slots_supported(vlm)
        if why is None:
            return SlotEngine(vlm, *args, **kwargs)
        log.warning("the slot engine cannot serve this model (%s); micro-batching instead", why)
    kwargs.pop("prefill_chunk", None)
    kwargs.pop("step_log", None)
    return Engine(vlm, *args, **kwargs)
