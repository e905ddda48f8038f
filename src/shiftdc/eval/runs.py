"""Resumable evaluation runs: one JSONL record per item, flushed as it goes, then a report.

`rescore.py` re-judges a finished run; `compare.py` sets runs side by side.

Records, resume, ownership and failed items follow `shiftdc.records.files`; `RUN/config.json` is
the run's settings sidecar.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from shiftdc.errors import InputError
from shiftdc.eval.defenses import Defense, get_defense
from shiftdc.eval.judges import Judge, get_judge, judge_records
from shiftdc.eval.metrics import summarize
from shiftdc.eval.report import write_report
from shiftdc.models.generation import batches
from shiftdc.parallel import distributed
from shiftdc.parallel.evaluation import evaluate_parallel, has_rank_files
from shiftdc.records.failures import run_isolating_failures
from shiftdc.records.files import RecordFile, SettingsMismatchError, check_run_dir
from shiftdc.records.jsonl import read_jsonl_records
from shiftdc.records.keys import item_key
from shiftdc.registry import canonical

if TYPE_CHECKING:
    from shiftdc.data.item import EvalItem
    from shiftdc.models.loading import VLM

RECORDS = "records.jsonl"
CONFIG = "config.json"
RunMismatchError = SettingsMismatchError
"""A run directory holds records made with different settings (kept name)."""
SUMMARY_ONLY = ("unparsed_verdicts", "yes_no_rule")
"""RunConfig fields that only change how records are counted (a resume may change them)."""


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
    long_prompt: str = "refuse"
    judge_options: dict[str, Any] = field(default_factory=dict)
    defense_settings: dict[str, Any] = field(default_factory=dict)
    #: options of the defense beyond caption_tokens/captions/direction, which stay fields of
    #: their own so that config.json keeps its shape; written only when set
    defense_options: dict[str, Any] = field(default_factory=dict)

    def defense_kwargs(self) -> dict[str, Any]:
        """The options to build this run's defense with: those of the fields it takes."""
        from shiftdc.eval.defenses import options_for

        shared = options_for(
            self.defense,
            caption_tokens=self.caption_tokens,
            captions=self.captions,
            direction=Path(self.direction) if self.direction else None,
        )
        return {**shared, **self.defense_options}

    def to_dict(self) -> dict[str, Any]:
        """config.json's content (defense_options left out when empty)."""
        d = asdict(self)
        if not d["defense_options"]:
            del d["defense_options"]
        return d

    benchmark_options: dict[str, Any] = field(default_factory=dict)
    unparsed_verdicts: str = "not-harmful"
    yes_no_rule: str = "mme"

    def validate(self) -> None:
        """Check names before anything heavy loads (spelled as registered; unknown ones are an
        UnknownNameError listing the valid names) and the defense's options."""
        from shiftdc.data import BENCHMARKS
        from shiftdc.data.options import check_options
        from shiftdc.eval.defenses import DEFENSES, defense_options
        from shiftdc.eval.judges import JUDGES
        from shiftdc.eval.metrics import UNPARSED_POLICIES
        from shiftdc.eval.parsing import YES_NO_RULES

        self.benchmark = canonical(BENCHMARKS, self.benchmark, "benchmark")
        self.defense = canonical(DEFENSES, self.defense, "defense")
        self.judge = canonical(JUDGES, self.judge, "judge")
        unknown = sorted(set(self.defense_options) - defense_options(self.defense))
        if unknown:
            raise InputError(f"defense {self.defense!r} takes no option {unknown[0]!r}")
        if self.benchmark != "builtin" and not self.data_dir:
            raise InputError(f"benchmark {self.benchmark!r} needs --data-dir (its download)")
        if self.data_dir and not Path(self.data_dir).is_dir():
            raise InputError(f"data directory not found: {self.data_dir}")
        check_options(self.benchmark, self.benchmark_options)
        for what, value, valid in (
            ("--unparsed-verdicts", self.unparsed_verdicts, UNPARSED_POLICIES),
            ("--yes-no-rule", self.yes_no_rule, YES_NO_RULES),
        ):
            if value not in valid:
                raise InputError(f"{what} {value!r} is not one of {', '.join(valid)}")
        if self.limit is not None and self.limit < 1:
            raise InputError(
                f"--limit {self.limit} selects no items; give a positive --limit, or leave it "
                "out to evaluate every item"
            )


def load_items(config: RunConfig) -> list[EvalItem]:
    """The run's items: all, or a seeded subsample of `limit` spread over kinds and attacks."""
    from shiftdc.data import load_benchmark, subsample

    config.validate()
    data_dir = Path(config.data_dir) if config.data_dir else None
    items = load_benchmark(
        config.benchmark, data_dir=data_dir, seed=config.seed, **config.benchmark_options
    )
    if not items:
        where = f" in {data_dir}" if data_dir else ""
        raise InputError(
            f"benchmark {config.benchmark!r} has no items{where}: its files hold no row it can "
            "evaluate (rows without an image or request are skipped, e.g. JailBreakV's "
            "text-only rows); check --data-dir"
        )
    return subsample(items, config.limit, config.seed) if config.limit is not None else items


def open_run(out_dir: str | Path) -> RecordFile:
    """Check `out_dir` is new, empty or an evaluate run of ours; read its records (no writes)."""
    out = Path(out_dir)
    check_run_dir(out, "evaluate")
    return RecordFile.open(out / RECORDS, "evaluate", sidecar=out / CONFIG)


def evaluate(
    vlm: VLM,
    config: RunConfig,
    out_dir: str | Path,
    batch_size: int = 8,
    progress: bool = True,
    items: list[EvalItem] | None = None,
) -> dict[str, Any]:
    """Run (or resume) an evaluation into `out_dir`; return the summary.

    Items that fail (unreadable image, rejected input) are error records, counted in the
    summary's `n_errors`; the next run of the same command retries them.
    """
    out = Path(out_dir)
    rf = open_run(out)
    items = items if items is not None else load_items(config)
    judge = get_judge(config.judge, **config.judge_options)
    defense = get_defense(
        config.defense,
        vlm,
        max_new_tokens=config.max_new_tokens,
        batch_size=batch_size,
        **config.defense_kwargs(),
    )
    config.defense_settings = defense.settings()
    settings = config.to_dict()
    rf.check_settings(settings, free=SUMMARY_ONLY)
    todo = rf.pending(items, item_key)
    if distributed.active() or has_rank_files(out):  # data-parallel, or resuming such a run
        return _evaluate_parallel(rf, settings, items, defense, judge, config, batch_size, progress)
    rf.start(settings, free=SUMMARY_ONLY)
    bar = tqdm(
        total=len(items),
        initial=len(items) - len(todo),
        desc=f"evaluate {config.defense}",
        unit="item",
        disable=not progress,
    )
    try:
        notes = defense.setup(out, items, seed=config.seed)
        for chunk in batches(todo, batch_size):
            for it, rec in zip(chunk, _run_batch(chunk, defense, judge, config), strict=True):
                rf.write(rec, item_key(it))
            bar.update(len(chunk))
    finally:
        bar.close()
        rf.close()
    return finish(out, config.judge, config.defense, notes, judge_name=judge.name)


def _evaluate_parallel(
    rf: RecordFile,
    settings: dict[str, Any],
    items: list[EvalItem],
    defense: Defense,
    judge: Judge,
    config: RunConfig,
    batch_size: int,
    progress: bool,
) -> dict[str, Any]:
    """`evaluate` under torchrun (see parallel/evaluation.py): rank 0 writes the run's config, then
    every rank generates its share, stamped with the content key and run id as `rf` would."""
    out = rf.path.parent
    distributed.barrier()  # every rank has read the run before rank 0 rewrites it
    if distributed.is_main():
        rf.start(settings, free=SUMMARY_ONLY)
        rf.close()
    distributed.barrier()
    run_id = str((open_run(out).saved or {})["run_id"])
    notes = defense.setup(out, items, seed=config.seed)

    def run_batch(chunk: list[EvalItem]) -> list[dict[str, Any]]:
        recs = _run_batch(chunk, defense, judge, config)
        return [
            {**r, "key": item_key(it), "run": run_id} for it, r in zip(chunk, recs, strict=True)
        ]

    return evaluate_parallel(
        items,
        out,
        run_batch,
        judge,
        batch_size,
        f"evaluate {config.defense}",
        progress,
        lambda recs: finish(out, config.judge, config.defense, notes, judge.name, recs),
    )


def _run_batch(
    chunk: list[EvalItem], defense: Defense, judge: Judge, config: RunConfig
) -> list[dict[str, Any]]:
    from shiftdc.data import ImageLoadError
    from shiftdc.models.context import limit_to_context, truncation_field

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
            sample = limit_to_context(
                defense.vlm, [it.to_sample()], config.long_prompt, config.max_new_tokens
            )[0]
            samples.append(sample)
            ok.append(len(records))
            base.update(truncation_field(sample))
        except (ImageLoadError, InputError) as exc:
            base["error"] = str(exc)
        records.append(base)
    if samples:
        t0 = time.perf_counter()
        outs = run_isolating_failures(defense.respond, samples)
        per_item = (time.perf_counter() - t0) / len(samples)
        for i, o in zip(ok, outs, strict=True):
            records[i].update(o, seconds=round(per_item, 4))
        good = [i for i in ok if not records[i]["error"]]
        scored = judge_records(judge, [records[i] for i in good])
        for i, r in zip(good, scored, strict=True):
            records[i] = {**r, "judge": judge.name}
    return records


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    """All records of a run (a torn last line is ignored)."""
    path = run_dir / RECORDS
    if not path.is_file():
        raise InputError(f"{run_dir} is not a run directory: {RECORDS} is missing")
    return read_jsonl_records(path)[0]


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
    cfg = saved_config(run_dir)
    counting = {k: cfg[k] for k in SUMMARY_ONLY if k in cfg}
    summary = summarize(recs, judge_name or judge, defense, meta=cfg, **counting)
    write_report(summary, run_dir, notes=notes)
    return json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))


def saved_config(run_dir: Path) -> dict[str, Any]:
    """config.json of a run, or {} when it has none (counting then follows the defaults)."""
    path = run_dir / CONFIG
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """config.json of an evaluation run, or InputError saying what is missing."""
    if not run_dir.is_dir():
        raise InputError(f"run directory not found: {run_dir}")
    path = run_dir / CONFIG
    if not path.is_file():
        raise InputError(f"{run_dir} is not a `shiftdc evaluate` run: {CONFIG} is missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON ({exc.msg})") from exc
