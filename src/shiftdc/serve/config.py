"""Operator settings of `shiftdc serve`: model, guard, network, batching and limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ENGINES = ("slots", "batch")
"""slots: the slot engine (`scheduler.py`, the default); batch: micro-batching (`engine.py`)."""


@dataclass
class ServeConfig:
    """Everything the operator decides; clients can change none of it (see overrides)."""

    model: str | None = None  # None: the testbed, built on first use
    direction: Path | None = None  # None: fitted on the built-in direction set
    # ShiftDC settings; None: the direction's recommendation (`shiftdc tune`), else the
    # defaults (paper mode, alpha 1, the direction's layers, last position)
    mode: str | None = None
    alpha: float | None = None
    layers: str | list[int] | None = None  # a layer spec ('10:31', '-8:-1') or indices
    positions: str | None = None
    captioner: str | None = None  # a smaller VLM for self-captions (default: the model)
    caption_tokens: int = 128
    cache_dir: Path | None = None  # caption cache (default: $SHIFTDC_CACHE/captions)
    guard: bool = True  # False: serve the model unguarded (operator decision, for comparisons)
    allow_client_overrides: bool = False
    playground: bool = False  # serve the playground page at / (`serve/playground.py`)
    # let any caller with the key switch the guard off per request (the page's comparison)
    playground_compare: bool = False
    served_model_name: str | None = None
    dtype: str = "auto"
    device: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    # batching
    batch_wait_ms: float = 10.0
    max_batch_size: int = 8
    max_queue: int = 64
    engine: str = "slots"  # slots: iteration-level scheduling; batch: micro-batching
    prefill_chunk: int = 512  # slots: prompt tokens per prefill pass between decode steps
    step_log: Path | None = None  # slots: one JSON line per decode step
    # limits
    timeout_s: float = 300.0
    max_body_bytes: int = 20 * 1024 * 1024
    max_image_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 4096 * 4096
    max_tokens: int = 512  # the most output tokens one request may ask for
    default_max_tokens: int = 128

    def check(self) -> None:
        """Refuse settings that cannot work, with the flag to fix."""
        from shiftdc.errors import InputError

        positive = {
            "--max-batch-size": self.max_batch_size,
            "--max-queue": self.max_queue,
            "--timeout": self.timeout_s,
            "--max-body-bytes": self.max_body_bytes,
            "--max-image-bytes": self.max_image_bytes,
            "--max-pixels": self.max_pixels,
            "--max-tokens": self.max_tokens,
            "--caption-tokens": self.caption_tokens,
            "--prefill-chunk": self.prefill_chunk,
        }
        for flag, value in positive.items():
            if value <= 0:
                raise InputError(f"{flag} must be > 0, got {value}")
        if self.engine not in ENGINES:
            raise InputError(f"--engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.batch_wait_ms < 0:
            raise InputError(f"--batch-wait-ms must be >= 0, got {self.batch_wait_ms}")
        if not 0 < self.port < 65536:
            raise InputError(f"--port must be in 1..65535, got {self.port}")
        if self.playground_compare and not self.playground:
            raise InputError("--playground-compare needs --playground; add it or leave both out")
        if self.step_log is not None and (
            self.step_log.is_dir() or not Path(self.step_log).parent.is_dir()
        ):
            raise InputError(
                f"--step-log {self.step_log}: not a file in an existing folder; "
                "create the folder or pick another path"
            )
        self.default_max_tokens = min(self.default_max_tokens, self.max_tokens)
