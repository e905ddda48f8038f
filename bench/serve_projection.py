"""A GPU projection from a CPU run: the slot engine's real schedule priced at measured step costs.

The slot engine logs every decode step (rows by kind). A CPU run fixes the schedule; the
seconds each step would take on a GPU come from decode steps measured on an H200 with a
LLaVA-1.5-7B-shaped model (bf16, random weights): 128 steps cost 2.79 s at 1 row, 3.18 s
at 8, 3.50 s at 16 and 3.68 s at 32 (linear in between, extended along the 16-32 slope
above 32). Prefill passes are not priced (the projection counts decode steps only), so it
is a projection of decode-bound throughput, not a measurement.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: rows per decode step -> seconds per step (H200, llava-7b shape, bf16; 128 steps measured)
H200_STEP_SECONDS = {1: 2.79 / 128, 8: 3.18 / 128, 16: 3.50 / 128, 32: 3.68 / 128}


def step_seconds(rows: int, table: dict[int, float] = H200_STEP_SECONDS) -> float:
    """Seconds of one decode step of `rows` rows, interpolated in the measured table."""
    points = sorted(table.items())
    if rows <= points[0][0]:
        return points[0][1]
    for (r0, s0), (r1, s1) in zip(points, points[1:], strict=False):
        if rows <= r1:
            return s0 + (s1 - s0) * (rows - r0) / (r1 - r0)
    (r0, s0), (r1, s1) = points[-2], points[-1]
    return s1 + (s1 - s0) * (rows - r1) / (r1 - r0)


def read_steps(path: Path, start: int, stop: int | None = None) -> list[dict[str, Any]]:
    """Lines [start, stop) of a step log."""
    lines = path.read_text().splitlines() if path.is_file() else []
    return [json.loads(line) for line in lines[start:stop]]


def count_steps(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


def schedule_summary(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """What the step log says about the schedule (checkable on any machine)."""
    n = len(steps)
    return {
        "steps": n,
        "mean_rows": sum(s["rows"] for s in steps) / n if n else 0.0,
        "max_rows": max((s["rows"] for s in steps), default=0),
        "caption_row_steps": sum(s["caption_rows"] for s in steps),
        "answer_row_steps": sum(s["answer_rows"] + s["plain_rows"] for s in steps),
        "shared_steps": sum(1 for s in steps if s["caption_rows"] and s["answer_rows"]),
        "idle_slot_steps": sum(1 for s in steps if s["waiting"] and s["free_slots"]),
    }


def project(steps: list[dict[str, Any]], requests: int) -> dict[str, float]:
    """Projected GPU decode time and throughput of a run whose steps are `steps`."""
    seconds = sum(step_seconds(s["rows"]) for s in steps)
    return {"projected_s": seconds, "projected_req_per_s": requests / seconds if seconds else 0.0}
