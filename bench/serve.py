"""`python -m bench serve`: the OpenAI-compatible server under load, side by side in one run.

Three servers share one loaded random LLaVA (realistic shape, as `python -m bench`) and
one caption cache, warmed first (ShiftDC "with cached captions"):
  batched   ShiftDC on, micro-batching (up to 32 rows per batch)
  single    ShiftDC on, one request at a time (--max-batch-size 1)
  unguarded ShiftDC off (--no-guard), micro-batching
At concurrency 1, 8 and 32 an async HTTP client sends requests to each server in turn
(interleaved repeats); throughput and p50/p95 latency are measured at the client. Writes
<out>/<machine>-serve.json and .md; a full run also refreshes the README's serve table.
Needs no network: the model is built locally and the servers bind loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import datetime as dt
import io
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import torch

from bench import model as bench_model
from bench import scenarios
from bench.report import slug
from bench.run import ROOT, machine

LEVELS = (1, 8, 32)
SERVERS = ("batched", "single", "unguarded")
FULL = dict(spec=bench_model.SPEC, tokens=64, requests={1: 8, 8: 32, 32: 64}, repeats=2)
QUICK = dict(spec=bench_model.QUICK_SPEC, tokens=12, requests={1: 3, 8: 8, 32: 32}, repeats=1)
README_START, README_END = "<!-- serve-bench:start -->", "<!-- serve-bench:end -->"


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench serve", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smoke run (smaller model and load)")
    ap.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: default)")
    ap.add_argument("--batch-wait-ms", type=float, default=10.0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument(
        "--readme",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="refresh the README's serve table (default: full runs only)",
    )
    return ap.parse_args(argv)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _components(vlm: Any, direction: Any, cache: Path, tokens: int) -> Any:
    from shiftdc.method.captions import Captioner
    from shiftdc.serve.components import Components

    cap = Captioner(vlm, max_new_tokens=tokens, cache_dir=cache, progress=False)
    counter = type(vlm.adapter)(vlm.model, copy.deepcopy(vlm.processor))
    return Components(vlm, direction, cap, "bench", counter, 1 << 30)


def start_servers(parts: Any, wait_ms: float) -> dict[str, tuple[str, Any]]:
    """The three servers, each on its own loopback port in a thread: name -> (url, server)."""
    import uvicorn

    from shiftdc.serve import ServeConfig, create_app

    out = {}
    for name in SERVERS:
        cfg = ServeConfig(
            guard=name != "unguarded",
            max_batch_size=1 if name == "single" else 32,
            batch_wait_ms=wait_ms,
            max_queue=256,
            max_tokens=4096,
            port=_port(),
        )
        app = create_app(cfg, loader=lambda _c: parts)
        server = uvicorn.Server(uvicorn.Config(app, port=cfg.port, log_level="error"))
        threading.Thread(target=server.run, daemon=True).start()
        url = f"http://127.0.0.1:{cfg.port}"
        while True:
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        out[name] = (url, server)
    return out


async def load(url: str, bodies: list[dict], concurrency: int) -> dict[str, Any]:
    """Send `bodies` with `concurrency` in flight; client-side timings."""
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []
    tokens = 0

    async def one(client: httpx.AsyncClient, body: dict) -> None:
        nonlocal tokens
        async with sem:
            t = time.perf_counter()
            r = await client.post(f"{url}/v1/chat/completions", json=body)
            r.raise_for_status()
            lat.append(time.perf_counter() - t)
            tokens += r.json()["usage"]["completion_tokens"]

    async with httpx.AsyncClient(timeout=3600) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(one(client, b) for b in bodies))
        wall = time.perf_counter() - t0
    q = np.percentile(lat, [50, 95])
    return {
        "requests": len(bodies),
        "seconds": wall,
        "req_per_s": len(bodies) / wall,
        "tokens_per_s": tokens / wall,
        "p50_s": float(q[0]),
        "p95_s": float(q[1]),
    }


def bodies(items: list[Any], tokens: int) -> list[dict]:
    """One chat request per item: its query and its image as a base64 PNG data URL."""
    out = []
    for s in items:
        buf = io.BytesIO()
        s.image.save(buf, "PNG")
        url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
        content = [
            {"type": "text", "text": s.prompt},
            {"type": "image_url", "image_url": {"url": url}},
        ]
        out.append(
            {
                "model": "bench",
                "messages": [{"role": "user", "content": content}],
                "max_tokens": tokens,
                "temperature": 0,
            }
        )
    return out


def measure(servers: dict, reqs: list[dict], cfg: dict) -> dict[str, Any]:
    runs: dict[str, dict[int, list[dict]]] = {n: {c: [] for c in LEVELS} for n in SERVERS}
    for rep in range(cfg["repeats"]):
        for c in LEVELS:
            batch = reqs[: cfg["requests"][c]]
            for name in SERVERS if rep % 2 == 0 else reversed(SERVERS):
                res = asyncio.run(load(servers[name][0], batch, c))
                runs[name][c].append(res)
                print(
                    f"  concurrency {c:>2}, {name:<9}: {res['req_per_s']:.2f} req/s, "
                    f"p50 {res['p50_s']:.2f}s, p95 {res['p95_s']:.2f}s",
                    flush=True,
                )
    table: dict[str, Any] = {}
    for name in SERVERS:
        table[name] = {}
        for c in LEVELS:
            rs = runs[name][c]
            table[name][str(c)] = {
                k: statistics.median(r[k] for r in rs)
                for k in ("req_per_s", "tokens_per_s", "p50_s", "p95_s")
            }
    ratios = {}
    for c in LEVELS:
        t = {n: table[n][str(c)]["req_per_s"] for n in SERVERS}
        ratios[str(c)] = {
            "batching_speedup": t["batched"] / t["single"],
            "guard_cost": t["unguarded"] / t["batched"],
        }
    return {"servers": table, "ratios": ratios, "runs": runs}


def markdown(res: dict[str, Any]) -> str:
    meta = res["meta"]
    lines = [
        f"Measured {meta['date']} on **{meta['machine']}** ({meta['device_note']}), "
        f"`{meta['command']}`; model: {meta['model']}; {meta['tokens']} answer tokens and "
        f"{meta['tokens']} caption tokens (cached), greedy; median of {meta['repeats']} "
        "interleaved repeat(s).",
        "",
        "| concurrency | server | req/s | tokens/s | p50 latency (s) | p95 latency (s) |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for c in LEVELS:
        for name in SERVERS:
            r = res["servers"][name][str(c)]
            lines.append(
                f"| {c} | {name} | {r['req_per_s']:.2f} | {r['tokens_per_s']:.1f} | "
                f"{r['p50_s']:.2f} | {r['p95_s']:.2f} |"
            )
    lines += [
        "",
        "| concurrency | micro-batched / one at a time (throughput) | unguarded / ShiftDC "
        "(throughput) |",
        "|---:|---:|---:|",
    ]
    for c in LEVELS:
        r = res["ratios"][str(c)]
        lines.append(f"| {c} | {r['batching_speedup']:.2f}x | {r['guard_cost']:.3f} |")
    lines.append("")
    lines.append(
        "GPU targets: micro-batched >= 4x one at a time at concurrency 8; unguarded / ShiftDC "
        "<= 1.10."
    )
    return "\n".join(lines)


def write(res: dict[str, Any], out: Path, readme: Path | None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{slug(res['meta']['machine'])}-serve"
    stem.with_suffix(".json").write_text(json.dumps(res, indent=1))
    md = markdown(res)
    stem.with_suffix(".md").write_text(md + "\n")
    if readme is not None and readme.is_file():
        text = readme.read_text()
        if README_START in text and README_END in text:
            head, rest = text.split(README_START, 1)
            _, tail = rest.split(README_END, 1)
            readme.write_text(f"{head}{README_START}\n{md}\n{README_END}{tail}")
    return stem


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    cfg = QUICK if args.quick else FULL
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    from shiftdc.method.direction import SafetyDirection
    from shiftdc.models import load_vlm

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    name, note = machine(device, torch.get_num_threads())
    print(f"shiftdc serve bench on {name} ({note}){' [quick]' if args.quick else ''}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = bench_model.build(Path(tmp) / "model", cfg["spec"])
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
        vlm = load_vlm(path, dtype=dtype, device=device)
        vlm.model.generation_config.min_new_tokens = cfg["tokens"]  # exact lengths
        print(f"model: {bench_model.describe(vlm)}", flush=True)
        safe, unsafe = scenarios.make_items(8, seed=1), scenarios.make_items(8, seed=2)
        caps = ["a red car on a street"] * 8, ["a knife and a bottle"] * 8
        direction = SafetyDirection.fit(vlm, safe, unsafe, caps[0], caps[1], progress=False)
        parts = _components(vlm, direction, Path(tmp) / "captions", cfg["tokens"])
        servers = start_servers(parts, args.batch_wait_ms)
        reqs = bodies(scenarios.make_items(max(cfg["requests"].values())), cfg["tokens"])
        print("warming the caption cache ...", flush=True)
        for srv in SERVERS:
            asyncio.run(load(servers[srv][0], reqs, 32))
        res = measure(servers, reqs, cfg)
        for _, server in servers.values():
            server.should_exit = True
        res["meta"] = {
            "machine": name,
            "device_note": note,
            "device": device,
            "model": bench_model.describe(vlm),
            "tokens": cfg["tokens"],
            "repeats": cfg["repeats"],
            "requests": cfg["requests"],
            "batch_wait_ms": args.batch_wait_ms,
            "quick": args.quick,
            "command": "python -m bench serve" + (" --quick" if args.quick else ""),
            "date": dt.date.today().isoformat(),
            "python": sys.version.split()[0],
        }
    update = args.readme if args.readme is not None else not args.quick
    readme = ROOT / "README.md" if update else None
    stem = write(res, args.out, readme)
    print(markdown(res))
    print(f"wrote {stem}.json, .md" + (" and the README table" if readme else ""))
    return 0
