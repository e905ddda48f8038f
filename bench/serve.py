"""`python -m bench serve`: the OpenAI-compatible server under load, side by side in one run.

Five servers share one loaded random LLaVA (realistic shape, as `python -m bench`, or a
real model's shape with `--shape`) and run in turn at concurrency 1, 8 and 32:
  shiftdc         ShiftDC on, self-captions (caption cache off), slot engine
  shiftdc-cached  ShiftDC on, cached captions (warmed first), slot engine
  unguarded       ShiftDC off (--no-guard), slot engine
  old-batch       ShiftDC on, cached captions, the old micro-batching engine
  single          ShiftDC on, self-captions, one request at a time (--max-batch-size 1)
An async HTTP client streams every request and measures throughput, p50/p95 latency and
time to first token. The slot servers log each decode step: the schedule (rows per step,
caption rows beside answer rows, idle slots) is summarised, and priced at decode-step costs
measured on an H200 (`bench/serve_projection.py`) as a labelled projection of GPU
throughput. Writes <out>/<machine>-serve.json and .md; a full run also refreshes the
README's serve table. Needs no network: the model is built locally, servers bind loopback.
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
from bench.serve_projection import count_steps, project, read_steps, schedule_summary

LEVELS = (1, 8, 32)
#: name -> (engine, guard, cached captions, max batch size)
SERVERS: dict[str, tuple[str, bool, bool, int]] = {
    "shiftdc": ("slots", True, False, 32),
    "shiftdc-cached": ("slots", True, True, 32),
    "unguarded": ("slots", False, True, 32),
    "old-batch": ("batch", True, True, 32),
    "single": ("slots", True, False, 1),
}
FULL = dict(spec=bench_model.SPEC, tokens=64, requests={1: 8, 8: 32, 32: 64}, repeats=2)
QUICK = dict(spec=bench_model.QUICK_SPEC, tokens=12, requests={1: 3, 8: 8, 32: 32}, repeats=1)
README_START, README_END = "<!-- serve-bench:start -->", "<!-- serve-bench:end -->"


def parse(argv: list[str] | None) -> argparse.Namespace:
    from bench.shapes import SHAPES

    ap = argparse.ArgumentParser(prog="python -m bench serve", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smoke run (smaller model and load)")
    ap.add_argument(
        "--shape", choices=sorted(SHAPES), help="a real model's shape, random weights on the device"
    )
    ap.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: default)")
    ap.add_argument("--tokens", type=int, help="answer tokens per request (exact)")
    ap.add_argument("--caption-tokens", type=int, help="caption tokens (default: --tokens)")
    ap.add_argument("--servers", default=",".join(SERVERS), help=f"a subset of {','.join(SERVERS)}")
    ap.add_argument("--batch-wait-ms", type=float, default=10.0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument(
        "--readme",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="refresh the README's serve table (default: full runs only)",
    )
    args = ap.parse_args(argv)
    args.servers = [n.strip() for n in args.servers.split(",") if n.strip()]
    unknown = [n for n in args.servers if n not in SERVERS]
    if unknown:
        ap.error(f"--servers: unknown {', '.join(unknown)}; choose from {', '.join(SERVERS)}")
    for flag in ("tokens", "caption_tokens"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            ap.error(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    return args


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _components(vlm: Any, direction: Any, cache: Path, tokens: int, use_cache: bool) -> Any:
    from shiftdc.method.captions import Captioner
    from shiftdc.serve.components import Components

    cap = Captioner(
        vlm, max_new_tokens=tokens, cache_dir=cache, use_cache=use_cache, progress=False
    )
    counter = type(vlm.adapter)(vlm.model, copy.deepcopy(vlm.processor))
    return Components(vlm, direction, cap, "bench", counter, 1 << 30)


def start_servers(
    parts: dict[bool, Any], names: list[str], wait_ms: float, logs: Path
) -> dict[str, tuple[str, Any, Path | None]]:
    """The servers, each on its own loopback port in a thread: name -> (url, server, log)."""
    import uvicorn

    from shiftdc.serve import ServeConfig, create_app

    out = {}
    for name in names:
        engine, guard, cached, size = SERVERS[name]
        step_log = logs / f"{name}.jsonl" if engine == "slots" else None
        cfg = ServeConfig(
            guard=guard,
            engine=engine,
            step_log=step_log,
            max_batch_size=size,
            batch_wait_ms=wait_ms,
            max_queue=256,
            max_tokens=4096,
            port=_port(),
        )
        app = create_app(cfg, loader=lambda _c, p=parts[cached]: p)
        server = uvicorn.Server(uvicorn.Config(app, port=cfg.port, log_level="error"))
        threading.Thread(target=server.run, daemon=True).start()
        url = f"http://127.0.0.1:{cfg.port}"
        while True:
            try:
                r = httpx.get(f"{url}/health")
                if r.status_code == 200 and r.json().get("status") == "ready":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        out[name] = (url, server, step_log)
    return out


async def load(url: str, bodies: list[dict], concurrency: int) -> dict[str, Any]:
    """Stream `bodies` with `concurrency` in flight; client-side timings."""
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []
    ttft: list[float] = []
    tokens = 0

    async def one(client: httpx.AsyncClient, body: dict) -> None:
        nonlocal tokens
        body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        async with sem:
            t = time.perf_counter()
            first = None
            async with client.stream("POST", f"{url}/v1/chat/completions", json=body) as r:
                r.raise_for_status()
                async for line in r.aiter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    chunk = json.loads(line[6:])
                    delta = chunk["choices"][0]["delta"] if chunk.get("choices") else {}
                    if first is None and delta.get("content"):
                        first = time.perf_counter() - t
                    if chunk.get("usage"):
                        tokens += chunk["usage"]["completion_tokens"]
            lat.append(time.perf_counter() - t)
            ttft.append(first if first is not None else lat[-1])

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
        "ttft_p50_s": float(np.percentile(ttft, 50)),
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
    names = list(servers)
    runs: dict[str, dict[int, list[dict]]] = {n: {c: [] for c in LEVELS} for n in names}
    for rep in range(cfg["repeats"]):
        for c in LEVELS:
            batch = reqs[: cfg["requests"][c]]
            for name in names if rep % 2 == 0 else reversed(names):
                url, _, log = servers[name]
                before = count_steps(log) if log else 0
                res = asyncio.run(load(url, batch, c))
                if log:
                    steps = read_steps(log, before)
                    res["schedule"] = schedule_summary(steps)
                    res["projection"] = project(steps, len(batch))
                runs[name][c].append(res)
                print(
                    f"  concurrency {c:>2}, {name:<14}: {res['req_per_s']:.2f} req/s, "
                    f"p50 {res['p50_s']:.2f}s, p95 {res['p95_s']:.2f}s, "
                    f"ttft {res['ttft_p50_s']:.2f}s",
                    flush=True,
                )
    table: dict[str, Any] = {}
    for name in names:
        table[name] = {}
        for c in LEVELS:
            rs = runs[name][c]
            row = {
                k: statistics.median(r[k] for r in rs)
                for k in ("req_per_s", "tokens_per_s", "p50_s", "p95_s", "ttft_p50_s")
            }
            if "projection" in rs[0]:
                row["projected_req_per_s"] = statistics.median(
                    r["projection"]["projected_req_per_s"] for r in rs
                )
                row["schedule"] = rs[0]["schedule"]
            table[name][str(c)] = row
    return {"servers": table, "ratios": ratios(table), "runs": runs}


def ratios(table: dict[str, Any]) -> dict[str, Any]:
    """The comparisons the targets name, measured and (slot servers) projected."""
    out: dict[str, Any] = {}
    pairs = {
        "slots_vs_single": ("shiftdc", "single"),
        "selfcap_vs_unguarded": ("shiftdc", "unguarded"),
        "cached_vs_unguarded": ("shiftdc-cached", "unguarded"),
        "slots_vs_old_batch": ("shiftdc-cached", "old-batch"),
    }
    for c in LEVELS:
        row = {}
        for key, (a, b) in pairs.items():
            if a in table and b in table:
                ra, rb = table[a][str(c)], table[b][str(c)]
                row[key] = ra["req_per_s"] / rb["req_per_s"]
                if "projected_req_per_s" in ra and "projected_req_per_s" in rb:
                    row[f"{key}_projected"] = ra["projected_req_per_s"] / rb["projected_req_per_s"]
        out[str(c)] = row
    return out


def markdown(res: dict[str, Any]) -> str:
    meta = res["meta"]
    lines = [
        f"Measured {meta['date']} on **{meta['machine']}** ({meta['device_note']}), "
        f"`{meta['command']}`; model: {meta['model']}; {meta['tokens']} answer tokens and "
        f"{meta['caption_tokens']} caption tokens, greedy, streamed; median of "
        f"{meta['repeats']} interleaved repeat(s). *Projected* columns are not measurements: "
        "the slot engine's logged schedule of this run priced at H200 decode-step costs "
        "(`bench/serve_projection.py`; prefill not priced).",
        "",
        "| concurrency | server | req/s | tokens/s | p50 (s) | p95 (s) | TTFT p50 (s) | "
        "rows/step | caption+answer steps | idle-slot steps | projected GPU req/s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in LEVELS:
        for name, runs in res["servers"].items():
            r = runs[str(c)]
            sch = r.get("schedule")
            extra = (
                f"{sch['mean_rows']:.1f} | {sch['shared_steps']}/{sch['steps']} | "
                f"{sch['idle_slot_steps']} | {r['projected_req_per_s']:.3f}"
                if sch
                else "- | - | - | -"
            )
            lines.append(
                f"| {c} | {name} | {r['req_per_s']:.2f} | {r['tokens_per_s']:.1f} | "
                f"{r['p50_s']:.2f} | {r['p95_s']:.2f} | {r['ttft_p50_s']:.2f} | {extra} |"
            )
    lines += [
        "",
        "| concurrency | comparison | measured here | projected GPU |",
        "|---:|---|---:|---:|",
    ]
    for c in LEVELS:
        for key, value in res["ratios"][str(c)].items():
            if key.endswith("_projected"):
                continue
            proj = res["ratios"][str(c)].get(f"{key}_projected")
            p = f"{proj:.2f}x" if proj is not None else "-"
            lines.append(f"| {c} | {key.replace('_', ' ')} | {value:.2f}x | {p} |")
    lines.append("")
    lines.append(
        "GPU targets (7B shape, 128-token answers, default caption length): shiftdc >= 0.8x "
        "unguarded at concurrency 32; slot engine >= 4x one at a time (single) at concurrency 8."
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
    tokens = args.tokens or cfg["tokens"]
    cap_tokens = args.caption_tokens or tokens
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
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
        if args.shape:
            from bench.shapes import build_in_memory

            vlm = build_in_memory(args.shape, device, getattr(torch, dtype))
        else:
            path = bench_model.build(Path(tmp) / "model", cfg["spec"])
            vlm = load_vlm(path, dtype=dtype, device=device)
        vlm.model.generation_config.min_new_tokens = max(tokens, cap_tokens)  # exact lengths
        print(f"model: {bench_model.describe(vlm)}", flush=True)
        safe, unsafe = scenarios.make_items(8, seed=1), scenarios.make_items(8, seed=2)
        caps = ["a red car on a street"] * 8, ["a knife and a bottle"] * 8
        direction = SafetyDirection.fit(vlm, safe, unsafe, caps[0], caps[1], progress=False)
        parts = {
            cached: _components(vlm, direction, Path(tmp) / "captions", cap_tokens, cached)
            for cached in (True, False)
        }
        servers = start_servers(parts, args.servers, args.batch_wait_ms, Path(tmp))
        reqs = bodies(scenarios.make_items(max(cfg["requests"].values())), tokens)
        print("warming the caption cache and every server ...", flush=True)
        for srv in servers:
            asyncio.run(load(servers[srv][0], reqs[:2] if SERVERS[srv][3] == 1 else reqs, 32))
        res = measure(servers, reqs, cfg)
        for _, server, _ in servers.values():
            server.should_exit = True
        command = "python -m bench serve" + (" --quick" if args.quick else "")
        command += f" --shape {args.shape}" if args.shape else ""
        command += f" --tokens {args.tokens}" if args.tokens else ""
        command += f" --caption-tokens {args.caption_tokens}" if args.caption_tokens else ""
        res["meta"] = {
            "machine": name,
            "device_note": note,
            "device": device,
            "model": bench_model.describe(vlm),
            "shape": args.shape,
            "tokens": tokens,
            "caption_tokens": cap_tokens,
            "repeats": cfg["repeats"],
            "requests": cfg["requests"],
            "batch_wait_ms": args.batch_wait_ms,
            "quick": args.quick,
            "command": command,
            "date": dt.date.today().isoformat(),
            "python": sys.version.split()[0],
        }
    update = args.readme if args.readme is not None else not (args.quick or args.shape)
    readme = ROOT / "README.md" if update else None
    out = args.out / args.shape if args.shape else args.out
    stem = write(res, out, readme)
    print(markdown(res))
    print(f"wrote {stem}.json, .md" + (" and the README table" if readme else ""))
    return 0
