"""`python -m bench serve-replay`: the GPU projection at the targets' lengths, fast, on a CPU.

Runs the slot engine in-process on a tiny random LLaVA (so decode steps are cheap) with
exact caption and answer lengths (default 128 and 128, as the GPU targets), closed-loop
clients at concurrency 1, 8 and 32 (first arrivals 10 ms apart), for three servers:
ShiftDC with self-captions, unguarded, and one request at a time. Each run's logged
schedule is priced at the H200 decode-step costs of `bench/serve_projection.py`.
A projection, not a measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from bench.serve_projection import project, schedule_summary

LEVELS = (1, 8, 32)
SERVERS = {"shiftdc": (True, 32), "unguarded": (False, 32), "single": (True, 1)}


def _engine(vlm: Any, direction: Any, slots: int, caption_tokens: int, tmp: Path) -> Any:
    from shiftdc.method.captions import Captioner
    from shiftdc.serve.prometheus import Metrics
    from shiftdc.serve.scheduler import SlotEngine

    cap = Captioner(vlm, caption_tokens, cache_dir=tmp, use_cache=False, progress=False)
    engine = SlotEngine(vlm, direction, cap, Metrics(), max_batch_size=slots, max_queue=1024)
    engine.start()
    return engine


async def _load(engine: Any, guard: bool, n: int, concurrency: int, tokens: int) -> None:
    from PIL import Image

    from shiftdc.serve.engine import Guard, Job

    sdc = engine.shiftdc(None, None)
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        await asyncio.sleep(0.01 * (i % concurrency))  # staggered first arrivals
        async with sem:
            job = Job(
                id=f"r{i}",
                prompt=f"what is in the image ? ({i})",
                image=Image.new("RGB", (12, 12 + i % 5), (i * 7 % 255, 90, 20)),
                max_tokens=tokens,
                stops=[],
                temperature=0.0,
                top_p=1.0,
                seed=None,
                guard=Guard(guard, sdc.mode, sdc.alpha),
                return_caption=False,
                loop=asyncio.get_running_loop(),
            )
            engine.submit(job)
            while (await job.events.get())[0] == "delta":
                pass

    await asyncio.gather(*(one(i) for i in range(n)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench serve-replay", description=__doc__)
    ap.add_argument("--tokens", type=int, default=128, help="answer tokens (exact)")
    ap.add_argument("--caption-tokens", type=int, default=128, help="caption tokens (exact)")
    ap.add_argument("--waves", type=int, default=2, help="requests per run = waves x concurrency")
    ap.add_argument("--out", type=Path, help="write the results JSON here")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    from shiftdc.method.direction import SafetyDirection
    from shiftdc.method.sample import Sample
    from shiftdc.models import load_vlm
    from shiftdc.models.tiny import make_tiny_model

    out: dict[str, Any] = {"tokens": args.tokens, "caption_tokens": args.caption_tokens}
    with tempfile.TemporaryDirectory() as tmp:
        vlm = load_vlm(make_tiny_model("llava", Path(tmp) / "m"), dtype="float32", device="cpu")
        vlm.model.generation_config.min_new_tokens = max(args.tokens, args.caption_tokens)
        safe = [Sample("s", "bake a cake", None), Sample("t", "name the tree", None)]
        unsafe = [Sample("u", "do harmful work", None), Sample("v", "hurt people", None)]
        direction = SafetyDirection.fit(vlm, safe, unsafe, progress=False)
        for name, (guard, slots) in SERVERS.items():
            out[name] = {}
            for c in LEVELS:  # a fresh engine per run: its step history holds the whole run
                engine = _engine(vlm, direction, slots, args.caption_tokens, Path(tmp))
                n = max(2, args.waves * c) if slots > 1 else max(2, c)
                asyncio.run(_load(engine, guard, n, c, args.tokens))
                engine.close(60)
                steps = list(engine.steps)
                out[name][str(c)] = {**project(steps, n), **schedule_summary(steps)}
                print(name, c, json.dumps(out[name][str(c)]), flush=True)
    for c in LEVELS:
        rate = {k: out[k][str(c)]["projected_req_per_s"] for k in SERVERS}
        out[f"ratios_{c}"] = {
            "slots_vs_single": rate["shiftdc"] / rate["single"],
            "selfcap_vs_unguarded": rate["shiftdc"] / rate["unguarded"],
        }
        print(c, json.dumps(out[f"ratios_{c}"]))
    if args.out:
        args.out.write_text(json.dumps(out, indent=1))
    return 0
