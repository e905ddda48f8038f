"""File-level jobs behind the CLI: JSONL in, JSONL/direction out, resumable.

Records go through `shiftdc.records.files` (ownership, content-keyed resume, error records).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from shiftdc.errors import InputError
from shiftdc.method.captions import Captioner
from shiftdc.method.direction import META_FILE, SafetyDirection
from shiftdc.method.pipeline import ShiftDC
from shiftdc.method.positions import DEFAULT_POSITIONS
from shiftdc.method.sample import Sample
from shiftdc.models.context import truncation_field
from shiftdc.models.generation import batches, generate_plain
from shiftdc.models.loading import VLM
from shiftdc.parallel import distributed
from shiftdc.parallel.rank_files import RankFiles
from shiftdc.parallel.sharded_captions import caption_sharded
from shiftdc.parallel.sharded_jobs import run_sharded
from shiftdc.records.failures import Tally, run_isolating_failures
from shiftdc.records.files import RecordFile, check_parent
from shiftdc.records.keys import sample_key

#: a batch of samples -> one record body each (raises where the batch fails)
Respond = Callable[[list[Sample]], list[dict[str, Any]]]


def check_direction_out(out: Path) -> None:
    """Refuse a `fit --out` that is a file or a folder holding anything but a direction."""
    check_parent(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; --out names a folder for the direction")
    if out.is_dir() and any(out.iterdir()):
        try:
            meta = json.loads((out / META_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            meta = None
        if not isinstance(meta, dict) or "model_fingerprint" not in meta:
            raise InputError(
                f"{out} is not empty and holds no saved direction; use a new or empty folder"
            )


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
    check_direction_out(out)
    captioner = Captioner(
        vlm, max_new_tokens=caption_tokens, batch_size=batch_size, progress=progress
    )
    for group in (safe, unsafe):
        caption_sharded(captioner, group)  # each rank its shard under torchrun
    direction = SafetyDirection.fit(
        vlm, safe, unsafe, layers=layers, batch_size=batch_size, progress=progress
    )
    if distributed.is_main():  # only rank 0 writes
        direction.save(out)
    distributed.barrier()
    return direction


def _run(
    rf: RecordFile,
    samples: list[Sample],
    settings: dict[str, Any],
    respond: Respond,
    desc: str,
    batch_size: int,
    progress: bool,
) -> Tally:
    """Write a record per pending sample (failed ones as error records); tally the file."""
    rf.check_settings(settings)
    if distributed.active() or RankFiles(rf.path).exist():  # data-parallel, or resuming one
        return run_sharded(rf, samples, settings, respond, desc, batch_size, progress)
    todo = rf.pending(samples, sample_key)
    rf.start(settings)
    try:
        for chunk in tqdm(list(batches(todo, batch_size)), desc=desc, disable=not progress):
            for s, rec in zip(chunk, run_isolating_failures(respond, chunk), strict=True):
                rf.write({"id": s.id, **rec}, sample_key(s))
    finally:
        rf.close()
    return rf.tally([s.id for s in samples])


def caption_job(
    vlm: VLM,
    samples: list[Sample],
    out: Path,
    max_new_tokens: int = 128,
    batch_size: int = 8,
    overwrite: bool = False,
    progress: bool = True,
) -> Tally:
    """Caption image requests into a JSONL (resumable); returns what the file now holds."""
    rf = RecordFile.open(out, "caption", overwrite=overwrite)
    captioner = Captioner(vlm, max_new_tokens=max_new_tokens, batch_size=batch_size, progress=False)

    def respond(chunk: list[Sample]) -> list[dict[str, Any]]:
        caps = captioner.caption(chunk)
        return [
            {"prompt": s.prompt, "caption": c, **truncation_field(s)}
            for s, c in zip(chunk, caps, strict=True)
        ]

    settings = {"model": vlm.fingerprint, "max_new_tokens": max_new_tokens}
    return _run(rf, samples, settings, respond, "captions", batch_size, progress)


@dataclass
class GenerateConfig:
    """Settings of `generate_job`; ShiftDC is on when `direction` is given."""

    direction: Path | None = None
    mode: str | None = None  # None: the direction's recommendation, else paper
    alpha: float | None = None  # None: the direction's recommendation, else 1
    layers: list[int] | None = None  # None: the recommendation, else the direction's/default
    positions: str | None = None  # None: the recommendation, else last
    max_new_tokens: int = 128
    caption_tokens: int = 128
    batch_size: int = 8
    overwrite: bool = False
    progress: bool = True

    def check(self, separate_captioner: bool = False) -> None:
        """Refuse ShiftDC options without a direction."""
        check_shiftdc_options(
            self.direction,
            self.layers,
            self.mode,
            self.alpha,
            True if separate_captioner else None,
            self.positions,
        )


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
    config: GenerateConfig | None = None,
    captioner: VLM | None = None,
) -> Tally:
    """Generate responses (plain, or ShiftDC with a direction) into a JSONL (resumable).

    Unset ShiftDC options come from the direction's recommendation, else the defaults
    (`shiftdc.method.settings`); the configuration used is printed. `captioner`, if given, is a
    separate VLM that makes the self-captions (default: `vlm`). Returns what the file now
    holds for `samples` (recorded, failed).
    """
    cfg = config or GenerateConfig()
    cfg.check(captioner is not None)
    rf = RecordFile.open(out, "generate", overwrite=cfg.overwrite)
    d = SafetyDirection.load(cfg.direction, vlm) if cfg.direction is not None else None
    if d is not None and cfg.layers:
        d.check_usable(cfg.layers, what="choose other --layers")
    n = cfg.max_new_tokens
    sdc = None
    if d is None:

        def respond(chunk: list[Sample]) -> list[dict[str, Any]]:
            texts = generate_plain(vlm, chunk, n, batch_size=cfg.batch_size)
            return [
                {"response": t, "shiftdc": False, **truncation_field(s)}
                for s, t in zip(chunk, texts, strict=True)
            ]

    else:
        sdc = ShiftDC(
            vlm,
            d,
            layers=cfg.layers,
            mode=cfg.mode,
            alpha=cfg.alpha,
            positions=cfg.positions,
            batch_size=cfg.batch_size,
            progress=False,
            captioner=Captioner(
                captioner or vlm,
                max_new_tokens=cfg.caption_tokens,
                batch_size=cfg.batch_size,
                progress=False,
            ),
        )
        print(f"ShiftDC: {sdc.settings.describe()}")

        def respond(chunk: list[Sample]) -> list[dict[str, Any]]:
            recs = [r.to_record() for r in sdc.generate(chunk, n)]
            return [
                {
                    **{k: v for k, v in r.items() if k != "id"},
                    "shiftdc": True,
                    **truncation_field(s),
                }
                for s, r in zip(chunk, recs, strict=True)
            ]

    settings = {
        "model": vlm.fingerprint,
        "direction": d.meta.get("data_fingerprint") if d else None,
        "mode": sdc.mode if sdc else None,
        "alpha": sdc.alpha if sdc else None,
        "layers": cfg.layers,
        "max_new_tokens": cfg.max_new_tokens,
        "caption_tokens": cfg.caption_tokens if d else None,
        "captioner": captioner.fingerprint if captioner is not None else None,
    }
    if sdc is not None and (sdc.positions != DEFAULT_POSITIONS or d.recommended):
        settings.update(positions=sdc.positions, resolved_layers=sdc.layers)
    return _run(rf, samples, settings, respond, "generate", cfg.batch_size, cfg.progress)
