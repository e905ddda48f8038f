"""File-level jobs behind the CLI: JSONL in, JSONL/direction out, resumable."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from shiftdc.captions import Captioner
from shiftdc.direction import SafetyDirection
from shiftdc.errors import InputError
from shiftdc.generation import batches, generate_plain
from shiftdc.models.loading import VLM
from shiftdc.pipeline import ShiftDC
from shiftdc.sample import Sample


def done_ids(out: Path) -> set[str]:
    """Ids already written to a result JSONL (a torn last line is ignored)."""
    if not out.is_file():
        return set()
    ids = set()
    for line in out.read_text(encoding="utf-8").splitlines():
        try:
            ids.add(str(json.loads(line)["id"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return ids


class RecordWriter:
    """Append-only JSONL writer that flushes every record."""

    def __init__(self, path: Path, overwrite: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if overwrite and path.exists():
            path.unlink()
        self._repair(path)
        self.fh = path.open("a", encoding="utf-8")

    @staticmethod
    def _repair(path: Path) -> None:
        """Drop a torn last line left by a killed run."""
        if path.is_file():
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                path.write_bytes(data[: data.rfind(b"\n") + 1])

    def write(self, record: dict[str, Any]) -> None:
        self.fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


def settings_path(out: Path) -> Path:
    """Sidecar holding the settings a result file was made with."""
    return out.with_name(out.name + ".settings.json")


def check_settings(out: Path, settings: dict[str, Any], overwrite: bool) -> None:
    """Refuse to resume `out` with other settings (name the first that differs); record them."""
    side = settings_path(out)
    if not overwrite and out.is_file() and side.is_file():
        saved = json.loads(side.read_text(encoding="utf-8"))
        for key, value in settings.items():
            if saved.get(key) != value:
                raise InputError(
                    f"{out} was made with {key}={saved.get(key)!r}, not {value!r}; use another "
                    "--out, the same settings to resume, or --overwrite"
                )
    side.parent.mkdir(parents=True, exist_ok=True)
    side.write_text(json.dumps(settings, indent=2), encoding="utf-8")


def pending(samples: Sequence[Sample], out: Path, overwrite: bool) -> list[Sample]:
    """Samples not yet in `out` (all of them when overwriting)."""
    if overwrite:
        return list(samples)
    seen = done_ids(out)
    todo = [s for s in samples if s.id not in seen]
    if seen and len(todo) < len(samples):
        print(f"resuming {out}: {len(samples) - len(todo)} of {len(samples)} already done")
    return todo


def fit_job(
    vlm: VLM,
    safe: list[Sample],
    unsafe: list[Sample],
    out: Path,
    layers: list[int] | None = None,
    batch_size: int = 8,
    caption_tokens: int = 128,
    progress: bool = True,
) -> SafetyDirection:
    """Fit and save a direction; images without captions are self-captioned first."""
    captioner = Captioner(
        vlm, max_new_tokens=caption_tokens, batch_size=batch_size, progress=progress
    )
    for group in (safe, unsafe):
        todo = [s for s in group if s.image is not None and s.caption is None]
        if todo:
            for s, c in zip(todo, captioner.caption(todo), strict=True):
                s.caption = c
    direction = SafetyDirection.fit(
        vlm, safe, unsafe, layers=layers, batch_size=batch_size, progress=progress
    )
    direction.save(out)
    return direction


def caption_job(
    vlm: VLM,
    samples: list[Sample],
    out: Path,
    max_new_tokens: int = 128,
    batch_size: int = 8,
    overwrite: bool = False,
    progress: bool = True,
) -> int:
    """Caption image requests into a JSONL (resumable); returns how many were written."""
    check_settings(out, {"model": vlm.fingerprint, "max_new_tokens": max_new_tokens}, overwrite)
    todo = pending(samples, out, overwrite)
    captioner = Captioner(vlm, max_new_tokens=max_new_tokens, batch_size=batch_size, progress=False)
    writer = RecordWriter(out, overwrite)
    try:
        for chunk in tqdm(list(batches(todo, batch_size)), desc="captions", disable=not progress):
            for s, c in zip(chunk, captioner.caption(chunk), strict=True):
                writer.write({"id": s.id, "prompt": s.prompt, "caption": c})
    finally:
        writer.close()
    return len(todo)


def check_shiftdc_options(
    direction: object | None,
    layers: list[int] | None = None,
    mode: str | None = None,
    alpha: float | None = None,
    captioner: object | None = None,
    positions: str | None = None,
) -> None:
    """InputError when ShiftDC options are set without a direction (ShiftDC is off then)."""
    given = (layers, mode, alpha, captioner, positions)
    if direction is None and any(v is not None for v in given):
        raise InputError(
            "--mode/--alpha/--layers/--positions/--captioner need --direction "
            "(ShiftDC is off without one)"
        )


def generate_job(
    vlm: VLM,
    samples: list[Sample],
    out: Path,
    direction: Path | None = None,
    mode: str | None = None,
    alpha: float | None = None,
    layers: list[int] | None = None,
    max_new_tokens: int = 128,
    caption_tokens: int = 128,
    batch_size: int = 8,
    overwrite: bool = False,
    progress: bool = True,
    captioner: VLM | None = None,
    positions: str | None = None,
) -> int:
    """Generate responses (plain, or ShiftDC with a direction) into a JSONL (resumable).

    Unset ShiftDC options come from the direction's recommendation, else the defaults
    (`shiftdc.settings`); the configuration used is printed. `captioner`, if given, is a
    separate VLM that makes the self-captions (default: `vlm`).
    """
    check_shiftdc_options(direction, layers, mode, alpha, captioner, positions)
    d = SafetyDirection.load(direction, vlm) if direction is not None else None
    sdc = None
    if d is not None:
        sdc = ShiftDC(
            vlm,
            d,
            layers=layers,
            mode=mode,
            alpha=alpha,
            positions=positions,
            batch_size=batch_size,
            progress=False,
            captioner=Captioner(
                captioner or vlm,
                max_new_tokens=caption_tokens,
                batch_size=batch_size,
                progress=False,
            ),
        )
        print(f"ShiftDC: {sdc.settings.describe()}")
    settings = {
        "model": vlm.fingerprint,
        "direction": d.meta.get("data_fingerprint") if d else None,
        "mode": sdc.mode if sdc else None,
        "alpha": sdc.alpha if sdc else None,
        "layers": layers,
        "max_new_tokens": max_new_tokens,
        "caption_tokens": caption_tokens if d else None,
        "captioner": captioner.fingerprint if captioner is not None else None,
    }
    if sdc is not None and (sdc.positions != "last" or d.recommended):
        settings.update(positions=sdc.positions, resolved_layers=sdc.layers)
    check_settings(out, settings, overwrite)
    todo = pending(samples, out, overwrite)
    writer = RecordWriter(out, overwrite)
    try:
        for chunk in tqdm(list(batches(todo, batch_size)), desc="generate", disable=not progress):
            if sdc is None:
                texts = generate_plain(vlm, chunk, max_new_tokens, batch_size=batch_size)
                recs = [
                    {"id": s.id, "response": t, "shiftdc": False}
                    for s, t in zip(chunk, texts, strict=True)
                ]
            else:
                recs = [
                    {**r.to_record(), "shiftdc": True} for r in sdc.generate(chunk, max_new_tokens)
                ]
            for r in recs:
                writer.write(r)
    finally:
        writer.close()
    return len(todo)
