"""Start `shiftdc serve` in a subprocess on a free loopback port; stop it with SIGTERM."""

from __future__ import annotations

import base64
import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import torch
from PIL import Image

SRC = Path(__file__).resolve().parents[2] / "src"
KEY = "test-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def data_url(image: Image.Image, fmt: str = "PNG") -> str:
    buf = io.BytesIO()
    image.save(buf, fmt)
    mime = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}[fmt]
    return f"data:image/{mime};base64," + base64.b64encode(buf.getvalue()).decode()


def image_message(text: str, image: Image.Image) -> list[dict]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": data_url(image)}},
            ],
        }
    ]


class Server:
    """A running `shiftdc serve`; `url` is its base URL, `api` the OpenAI base URL."""

    def __init__(self, args: list[str], tmp: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.url}/v1"
        tmp.mkdir(parents=True, exist_ok=True)
        self.log = tmp / f"serve-{self.port}.log"
        full_env = {
            **os.environ,
            "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "OMP_NUM_THREADS": str(torch.get_num_threads()),
            "SHIFTDC_CACHE": str(tmp / "cache"),
            **(env or {}),
        }
        cmd = [sys.executable, "-m", "shiftdc.cli", "serve", "--port", str(self.port), *args]
        self.proc = subprocess.Popen(
            cmd, env=full_env, stdout=open(self.log, "w"), stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"server not ready:\n{self.log.read_text()}")

    def healthy(self) -> bool:
        r = httpx.get(f"{self.url}/health", timeout=5)
        return r.status_code == 200 and r.json()["status"] == "ready"

    def stop(self) -> int:
        """SIGTERM (drains), then the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
