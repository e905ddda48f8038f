"""Drive a serve engine in-process: jobs submitted at set times, events collected per job."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from shiftdc.serve.engine import Engine, Guard, Job


@dataclass
class Spec:
    """One request of a scenario: when it arrives, what it asks, whether its client leaves."""

    prompt: str
    image: Image.Image | None
    max_tokens: int
    at: float = 0.0  # seconds after the start
    stops: list[str] = field(default_factory=list)
    temperature: float = 0.0
    seed: int | None = None
    cancel_after: int | None = None  # leave after this many deltas
    guard: Guard | None = None
    after: tuple[int, int] | None = None  # (spec index, deltas): arrive once it streamed these


@dataclass
class Outcome:
    text: str
    finish: str
    block: dict[str, Any]
    deltas: list[str]
    submitted: float
    done: float
    error: Any = None


def job_of(spec: Spec, i: int, loop: asyncio.AbstractEventLoop, guard: Guard) -> Job:
    return Job(
        id=f"job{i}",
        prompt=spec.prompt,
        image=spec.image,
        max_tokens=spec.max_tokens,
        stops=spec.stops,
        temperature=spec.temperature,
        top_p=1.0,
        seed=spec.seed,
        guard=spec.guard or guard,
        return_caption=True,
        loop=loop,
    )


def run(engine: Engine, specs: list[Spec], guard: Guard) -> list[Outcome]:
    """Submit every spec at its time and wait for all of them; one Outcome per spec."""

    streamed = [0] * len(specs)
    progress = asyncio.Condition()

    async def one(i: int, spec: Spec, t0: float) -> Outcome:
        await asyncio.sleep(spec.at)
        if spec.after is not None:
            other, count = spec.after
            async with progress:
                await progress.wait_for(lambda: streamed[other] >= count)
        job = job_of(spec, i, asyncio.get_running_loop(), guard)
        submitted = time.monotonic() - t0
        engine.submit(job)
        deltas: list[str] = []
        while True:
            kind, payload = await asyncio.wait_for(job.events.get(), 600)
            if kind == "delta":
                deltas.append(payload)
                async with progress:
                    streamed[i] += 1
                    progress.notify_all()
                if spec.cancel_after is not None and len(deltas) >= spec.cancel_after:
                    job.cancelled.set()
                continue
            now = time.monotonic() - t0
            if kind == "error":
                return Outcome("", "error", {}, deltas, submitted, now, payload)
            return Outcome(
                payload["text"], payload["finish"], payload["shiftdc"], deltas, submitted, now
            )

    async def main() -> list[Outcome]:
        t0 = time.monotonic()
        return await asyncio.gather(*(one(i, s, t0) for i, s in enumerate(specs)))

    return asyncio.run(main())


def cut(text: str, stops: list[str]) -> str:
    """A full response cut before its first stop string, as the server cuts it."""
    cuts = [text.find(s) for s in stops if s in text]
    return text[: min(cuts)].rstrip() if cuts else text
