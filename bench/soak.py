"""`python -m bench soak`: a bounded load test of `shiftdc serve` on 127.0.0.1.

Starts a server (a tiny random LLaVA built here, or --model with --direction), asks each
distinct good request once alone (its solo answer), then sends --requests requests at
--concurrency: good ones (plain and streamed), bad ones (the 4xx cases: unknown model,
too many tokens, a broken image, no API key, no messages) and streams its client leaves
after the first chunk. It passes when no response is a 5xx, every good answer equals its
solo answer, and the server's resident memory at the end is within --memory-slack of its
value after the first tenth of the requests.

  short (CI):  python -m bench soak --requests 200
  long:        python -m bench soak --requests 2000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from shiftdc.serve.config import ENGINES

KEY = "soak-key"
PROMPTS = ["what is in the image ?", "describe the colors", "list what you see here", "why?"]


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench soak", description=__doc__)
    ap.add_argument("--requests", type=int, default=200, help="requests in all (long: 2000)")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--model", help="a model folder (default: a tiny random LLaVA built here)")
    ap.add_argument("--direction", help="its safety direction (needed with --model)")
    ap.add_argument("--engine", default="slots", choices=ENGINES)
    ap.add_argument("--memory-slack", type=float, default=0.10, help="allowed RSS growth")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="write the summary JSON here")
    args = ap.parse_args(argv)
    if args.requests < 20 or args.concurrency < 1:
        ap.error("--requests must be >= 20 and --concurrency >= 1")
    if (args.model is None) != (args.direction is None):
        ap.error("--model and --direction go together")
    return args


def _png(seed: int) -> str:
    rng = np.random.default_rng(seed)
    im = Image.fromarray(rng.integers(0, 255, (12, 12 + seed % 5, 3), dtype=np.uint8))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def good_requests(n: int = 12) -> list[dict[str, Any]]:
    """Distinct greedy requests with images, different lengths and stop strings."""
    out = []
    for i in range(n):
        content = [
            {"type": "text", "text": f"{PROMPTS[i % 4]} ({i})"},
            {"type": "image_url", "image_url": {"url": _png(600 + i)}},
        ]
        body: dict[str, Any] = {
            "model": "soak",
            "messages": [{"role": "user", "content": content}],
            "max_tokens": 2 + i % 6,
            "temperature": 0,
        }
        if i % 4 == 1:
            body["stop"] = ["ai", "book"]
        out.append(body)
    return out


def bad_request(kind: int, good: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """One of the 4xx cases: (body, extra headers)."""
    body = json.loads(json.dumps(good))
    headers: dict[str, str] = {}
    if kind == 0:
        body["model"] = "no-such-model"
    elif kind == 1:
        body["max_tokens"] = 10**6
    elif kind == 2:
        body["messages"][0]["content"][1]["image_url"]["url"] = "data:image/png;base64,AAAA"
    elif kind == 3:
        headers["Authorization"] = "Bearer wrong"
    else:
        body["messages"] = []
    return body, headers


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def start_server(args: argparse.Namespace, tmp: Path) -> tuple[subprocess.Popen, str]:
    if args.model is None:
        args.model, args.direction = _tiny_model(tmp)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = Path(__file__).resolve().parents[1] / "src"
    env = {
        **os.environ,
        "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "HF_HUB_OFFLINE": "1",
        "SHIFTDC_CACHE": str(tmp / "cache"),
        "OMP_NUM_THREADS": "1",
    }
    cmd = [
        sys.executable, "-m", "shiftdc.cli", "serve", "--model", str(args.model),
        "--direction", str(args.direction), "--api-key", KEY, "--served-model-name", "soak",
        "--port", str(port), "--engine", args.engine, "--caption-tokens", "6",
        "--max-tokens", "64", "--max-queue", "256", "--dtype", "float32", "--device", "cpu",
    ]  # fmt: skip
    log = open(tmp / "server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{(tmp / 'server.log').read_text()}")
        try:
            r = httpx.get(f"{url}/health", timeout=2)
            if r.status_code == 200 and r.json().get("status") == "ready":
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("server not ready in 600 s")


def _tiny_model(tmp: Path) -> tuple[Path, Path]:
    import torch

    from shiftdc.method.direction import SafetyDirection
    from shiftdc.method.sample import Sample
    from shiftdc.models import load_vlm
    from shiftdc.models.tiny import make_tiny_model

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # restored: the script also runs inside the test process
    try:
        path = make_tiny_model("llava", tmp / "model")
        vlm = load_vlm(path, dtype="float32", device="cpu")
        safe = [Sample(f"s{i}", p, None) for i, p in enumerate(["bake a cake", "name the tree"])]
        unsafe = [
            Sample(f"u{i}", p, None) for i, p in enumerate(["do harmful work", "hurt people"])
        ]
        direction = SafetyDirection.fit(vlm, safe, unsafe, progress=False)
        direction.save(tmp / "direction")
    finally:
        torch.set_num_threads(before)
    return path, tmp / "direction"


async def _send(
    client: httpx.AsyncClient, url: str, body: dict, headers: dict, stream: bool, leave: bool
) -> tuple[int, str | None]:
    """(status, answer text or None) of one request; `leave`: disconnect after one chunk."""
    hdrs = {"Authorization": f"Bearer {KEY}", **headers}
    if not stream:
        r = await client.post(f"{url}/v1/chat/completions", json=body, headers=hdrs)
        ok = r.status_code == 200
        return r.status_code, r.json()["choices"][0]["message"]["content"] if ok else None
    body = {**body, "stream": True}
    text = ""
    async with client.stream("POST", f"{url}/v1/chat/completions", json=body, headers=hdrs) as r:
        if r.status_code != 200:
            await r.aread()
            return r.status_code, None
        async for line in r.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("choices"):
                text += chunk["choices"][0]["delta"].get("content") or ""
            if leave:
                return r.status_code, None
    return r.status_code, text


async def soak(url: str, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    goods = good_requests()
    rng = random.Random(args.seed)
    async with httpx.AsyncClient(timeout=600) as client:
        solo = [(await _send(client, url, b, {}, False, False))[1] for b in goods]
        plan = []
        for i in range(args.requests):
            kind = rng.choices(["good", "stream", "bad", "cancel"], [5, 3, 2, 1])[0]
            plan.append((kind, rng.randrange(len(goods)), i % 5))
        sem = asyncio.Semaphore(args.concurrency)
        stats: dict[str, Any] = {"status": {}, "mismatches": [], "rss_kb": {}}
        done = 0
        baseline_at = max(1, args.requests // 10)

        async def one(kind: str, g: int, bad: int) -> None:
            nonlocal done
            async with sem:
                body, headers = (goods[g], {}) if kind != "bad" else bad_request(bad, goods[g])
                status, text = await _send(
                    client, url, body, headers, kind in ("stream", "cancel"), kind == "cancel"
                )
                stats["status"][str(status)] = stats["status"].get(str(status), 0) + 1
                if kind in ("good", "stream") and (status != 200 or text != solo[g]):
                    stats["mismatches"].append({"kind": kind, "request": g, "got": text})
                if kind == "bad" and not 400 <= status < 500:
                    stats["mismatches"].append({"kind": "bad", "case": bad, "status": status})
                done += 1
                if done == baseline_at:
                    stats["rss_kb"]["baseline"] = _rss_kb(pid)

        t0 = time.monotonic()
        await asyncio.gather(*(one(*p) for p in plan))
        stats["seconds"] = time.monotonic() - t0
    await asyncio.sleep(0.5)
    stats["rss_kb"]["end"] = _rss_kb(pid)
    stats["requests"] = args.requests
    stats["concurrency"] = args.concurrency
    stats["server_errors"] = sum(n for s, n in stats["status"].items() if s.startswith("5"))
    base, end = stats["rss_kb"].get("baseline", 0), stats["rss_kb"]["end"]
    stats["rss_growth"] = (end - base) / base if base else None
    stats["passed"] = (
        stats["server_errors"] == 0
        and not stats["mismatches"]
        and base > 0
        and end <= base * (1 + args.memory_slack)
    )
    return stats


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(args, Path(tmp))
        try:
            stats = asyncio.run(soak(url, proc.pid, args))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        stats["server_exit"] = proc.returncode
        stats["passed"] = stats["passed"] and proc.returncode == 0
    text = json.dumps(stats, indent=1)
    if args.out:
        args.out.write_text(text)
    print(text)
    print("soak passed" if stats["passed"] else "soak FAILED")
    return 0 if stats["passed"] else 1
