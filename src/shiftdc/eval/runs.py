"""Resumable evaluation runs: one JSONL record per item, flushed as it goes, then a report."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from shiftdc import atomic, distributed
from shiftdc.errors import InputError, ShiftDCError
from shiftdc.eval.defenses import get_defense
from shiftdc.eval.judges import get_judge, judge_records
from shiftdc.eval.metrics import summarize
from shiftdc.eval.parallel import evaluate_parallel, has_rank_files
from shiftdc.eval.report import write_report
from shiftdc.generation import batches
from shiftdc.jobs import RecordWriter, done_ids

RECORDS = "records.jsonl"
CONFIG = "config.json"


class RunMismatchError(ShiftDCError):
    """A run directory holds records made with different settings."""


@dataclass
class RunConfig:
    """Everything that decides a run's records (the batch size does not)."""

    model: str
    benchmark: str = "builtin"
    defense: str = "none"
    judge: str = "keyword"
    data_dir: str | None = None
    seed: int = 0
    max_new_tokens: int = 128
    caption_tokens: int = 128
    captions: str = "self"
    direction: str | None = None
    limit: int | None = None
    judge_options: dict[str, Any] = field(default_factory=dict)
    defense_settings: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Check names before anything heavy loads; list the valid ones."""
        from shiftdc.data import BENCHMARKS
        from shiftdc.eval.defenses import DEFENSES
        from shiftdc.eval.judges import JUDGES

        for what, value, valid in (
            ("benchmark", self.benchmark, BENCHMARKS),
            ("defense", self.defense, DEFENSES),
            ("judge", self.judge, JUDGES),
        ):
            if value not in valid:
                raise InputError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")
        if self.benchmark != "builtin" and not self.data_dir:
            raise InputError(f"benchmark {self.benchmark!r} needs --data-dir (its download)")
        if self.data_dir and not Path(self.data_dir).is_dir():
            raise InputError(f"data directory not found: {self.data_dir}")

    def check_same(self, saved: dict[str, Any], run_dir: Path) -> None:
        """Refuse to mix records: name the first setting that differs."""
        mine = asdict(self)
        for key, value in mine.items():
            if key in saved and saved[key] != value:
                raise RunMismatchError(
                    f"{run_dir} was made with {key}={saved[key]!r}, not {value!r}; use a new "
                    "--out directory (or the same settings to resume)"
                )


def load_items(benchmark: str, data_dir: str | None, seed: int, limit: int | None) -> list[Any]:
    """Benchmark items: all, or a seeded subsample of `limit` spread over kinds and attacks."""
    from shiftdc.data import load_benchmark

    items = load_benchmark(
        benchmark, data_dir=Path(data_dir) if data_dir else None, seed=seed, limit=limit
    )
    if not items:
        raise InputError(f"benchmark {benchmark!r} has no items")
    return items


def evaluate(
    vlm: Any,
    config: RunConfig,
    out_dir: str | Path,
    batch_size: int = 8,
    progress: bool = True,
) -> dict[str, Any]:
    """Run (or resume) an evaluation into `out_dir`; return the summary."""
    out = Path(out_dir)
    items = load_items(config.benchmark, config.data_dir, config.seed, config.limit)
    judge = get_judge(config.judge, **config.judge_options)
    defense = get_defense(
        config.defense,
        vlm,
        max_new_tokens=config.max_new_tokens,
        batch_size=batch_size,
        caption_tokens=config.caption_tokens,
        captions=config.captions,
        direction=Path(config.direction) if config.direction else None,
    )
    config.defense_settings = defense.settings()
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / CONFIG
    if cfg_path.is_file():
        config.check_same(json.loads(cfg_path.read_text(encoding="utf-8")), out)
    atomic.write_text(cfg_path, json.dumps(asdict(config), indent=2))  # ranks write it at once
    notes = defense.setup(out, items, seed=config.seed)
    if distributed.active() or has_rank_files(out):  # data-parallel, or resuming such a run
        return evaluate_parallel(
            items,
            out,
            lambda chunk: _run_batch(chunk, defense, judge, config),
            judge,
            batch_size,
            f"evaluate {config.defense}",
            progress,
            lambda recs: finish(out, config.judge, config.defense, notes, judge.name, recs),
        )
    done = done_ids(out / RECORDS)
    todo = [it for it in items if it.id not in done]
    if done:
        print(f"resuming {out}: {len(items) - len(todo)} of {len(items)} items already done")
    writer = RecordWriter(out / RECORDS)
    bar = tqdm(
        total=len(items),
        initial=len(items) - len(todo),
        desc=f"evaluate {config.defense}",
        unit="item",
        disable=not progress,
    )
    try:
        for chunk in batches(todo, batch_size):
            for rec in _run_batch(chunk, defense, judge, config):
                writer.write(rec)
            bar.update(len(chunk))
    finally:
        bar.close()
        writer.close()
    return finish(out, config.judge, config.defense, notes, judge_name=judge.name)


def _run_batch(chunk: list[Any], defense: Any, judge: Any, config: RunConfig) -> list[dict]:
    from shiftdc.data import ImageLoadError

    records: list[dict[str, Any]] = []
    samples, ok = [], []
    for it in chunk:
        base = {
            "id": it.id,
            "prompt": it.prompt,
            **it.labels(),
            "defense": config.defense,
            "judge": None,
            "response": None,
            "verdict": None,
            "error": None,
        }
        try:
            samples.append(it.to_sample())
            ok.append(len(records))
        except ImageLoadError as exc:
            base["error"] = str(exc)
        records.append(base)
    if samples:
        t0 = time.perf_counter()
        outs = defense.respond(samples)
        per_item = (time.perf_counter() - t0) / len(samples)
        for i, o in zip(ok, outs, strict=True):
            records[i].update(o, seconds=round(per_item, 4))
        scored = judge_records(judge, [records[i] for i in ok])
        for i, r in zip(ok, scored, strict=True):
            records[i] = {**r, "judge": judge.name}
    return records


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    """All records of a run (a torn last line is ignored)."""
    path = run_dir / RECORDS
    if not path.is_file():
        raise InputError(f"{run_dir} is not a run directory: {RECORDS} is missing")
    recs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            recs.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return recs


def finish(
    run_dir: Path,
    judge: str,
    defense: str,
    notes: list[str] | None = None,
    judge_name: str | None = None,
    records: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Summarise a run's records and write summary.json, report.md and report.html."""
    recs = records if records is not None else read_records(run_dir)
    cfg = json.loads((run_dir / CONFIG).read_text()) if (run_dir / CONFIG).is_file() else {}
    summary = summarize(recs, judge_name or judge, defense, meta=cfg)
    write_report(summary, run_dir, notes=notes)
    return json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))


def rescore(
    run_dir: str | Path,
    judge: str,
    judge_options: dict[str, Any] | None = None,
    out_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Re-judge a run's responses (no regeneration) into `run_dir/rescore-<judge>/`."""
    src = Path(run_dir)
    recs = read_records(src)
    j = get_judge(judge, **(judge_options or {}))
    rescored = judge_records(j, recs)
    for r in rescored:
        if r.get("verdict") is not None:
            r["judge"] = j.name
    dest = Path(out_dir) if out_dir else src / f"rescore-{judge}"
    dest.mkdir(parents=True, exist_ok=True)
    cfg = json.loads((src / CONFIG).read_text()) if (src / CONFIG).is_file() else {}
    cfg.update(judge=judge, judge_options=judge_options or {}, rescored_from=str(src))
    (dest / CONFIG).write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    with (dest / RECORDS).open("w", encoding="utf-8") as fh:
        for r in rescored:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    defense = cfg.get("defense") or (recs[0].get("defense") if recs else "unknown")
    notes = [f"Re-scored from {src} with the {j.name} judge; responses were not regenerated."]
    return finish(dest, judge, defense, notes, judge_name=j.name, records=rescored)


def compare_runs(run_dirs: list[Path], out: Path | None = None, by: str = "attack") -> str:
    """Side-by-side markdown table of runs' summaries; written to `out` when given."""
    from shiftdc.eval.compare import compare_table

    summaries = []
    for d in run_dirs:
        path = Path(d) / "summary.json"
        if not path.is_file():
            raise InputError(f"{d} has no summary.json; is it a finished `shiftdc evaluate` run?")
        summaries.append(json.loads(path.read_text(encoding="utf-8")))
    table = compare_table(summaries, by=by)  # type: ignore[arg-type]
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table, encoding="utf-8")
    return table
