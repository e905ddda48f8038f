"""`shiftdc tune`: evaluate a grid of ShiftDC configurations on a tuning set, recommend one.

Every request is captioned once and measured once per batch (`shiftdc.tuning.shared`);
each configuration's answers are judged (keyword refusal, yes/no correctness, repetition)
and appended to records/<config>.jsonl (a `shiftdc.records.files` file: its settings sidecar
pins the run's settings, resume is keyed on content), so an interrupted run resumes where
it stopped and a run with other settings is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from shiftdc.errors import InputError
from shiftdc.eval.judges import get_judge
from shiftdc.eval.parsing import parse_yes_no
from shiftdc.method.caption_routing import captions_for
from shiftdc.method.captions import Captioner
from shiftdc.method.direction import SafetyDirection, load_or_fit_direction
from shiftdc.method.pipeline import ShiftDC
from shiftdc.method.sample import Sample
from shiftdc.models.generation import batches, generate_plain, generate_text
from shiftdc.models.loading import VLM
from shiftdc.records.files import RecordFile
from shiftdc.records.keys import digest, sample_key
from shiftdc.tuning.degenerate import is_degenerate
from shiftdc.tuning.grid import GridPoint, make_grid
from shiftdc.tuning.recommend import BENIGN_BASELINES, BENIGN_MARGIN, UTILITY_MARGIN, choose
from shiftdc.tuning.report import rows_from_records, write_outputs
from shiftdc.tuning.shared import calibration_for, measure_once
from shiftdc.tuning.tuning_set import (
    DEFAULT_SPLIT,
    builtin_tuning_items,
    from_items,
    limited,
    read_tuning_jsonl,
    utility_samples,
    without_captions,
)

DIRECT, COUNTERPART = "direct", "counterpart"


@dataclass
class TuneConfig:
    """What `tune` measures; every field but batch_size/progress/store decides the records."""

    layer_specs: list[str] | None = None  # None: three ranges ending at the last layer
    alphas: list[float] | None = None  # None: grid.DEFAULT_ALPHAS
    modes: list[str] = field(default_factory=lambda: ["paper"])
    positions: list[str] = field(default_factory=lambda: ["last"])
    split: str = DEFAULT_SPLIT
    attacks: list[str] = field(default_factory=lambda: ["TYPO"])
    input: str | None = None
    limit: int | None = 12  # at most N harmful and N benign requests (None: all)
    utility: int = 8  # yes/no questions (0: skip utility)
    captions: str = "self"  # self: the model captions each image (the method); given
    max_new_tokens: int = 24
    caption_tokens: int = 32
    seed: int = 0
    benign_margin: float = BENIGN_MARGIN
    utility_margin: float = UTILITY_MARGIN
    benign_baseline: str = "counterpart"  # or "max": also the unsteered model's own rate
    batch_size: int = 8
    progress: bool = True
    store: bool = True  # write the recommendation into the direction's JSON


def load_tuning_set(config: TuneConfig) -> tuple[list[Sample], list[Any]]:
    """(samples with kind in meta, the EvalItems they came from: [] for a JSONL)."""
    if config.input:
        return limited(read_tuning_jsonl(Path(config.input)), config.limit, config.seed), []
    items = builtin_tuning_items(config.split, config.attacks, config.seed)
    samples = limited(from_items(items), config.limit, config.seed)
    kept = {s.id for s in samples}
    return samples, [it for it in items if it.id in kept]


def tune(
    vlm: VLM, out_dir: str | Path, config: TuneConfig, direction: str | Path | None = None
) -> dict[str, Any]:
    """Run (or resume) the grid into `out_dir`; write table.md/json, pareto.png,
    recommendation.json; store the recommendation with the direction. Returns table.json."""
    out = Path(out_dir)
    samples, items = load_tuning_set(config)
    utility = utility_samples(config.utility, config.seed)
    if config.benign_baseline not in BENIGN_BASELINES:
        raise InputError(
            f"--benign-baseline must be one of {', '.join(BENIGN_BASELINES)}, "
            f"got {config.benign_baseline!r}"
        )
    if config.captions == "self":
        samples = without_captions(samples)
    elif config.captions != "given":
        raise InputError(f"--captions must be self or given, got {config.captions!r}")
    grid = make_grid(
        vlm.num_layers, config.layer_specs, config.alphas, config.modes, config.positions
    )
    out.mkdir(parents=True, exist_ok=True)
    if direction is None and config.input:
        raise InputError("with --input, pass --direction (a direction fitted on other requests)")
    sd, _ = load_or_fit_direction(vlm, direction, items, out, config.seed, config.batch_size)
    if direction is not None:
        direction_dir, note = Path(direction), f"direction {direction}"
    else:
        direction_dir = out / "direction"
        note = f"direction fitted on the built-in direction set -> {out}/direction"
    every = samples + utility
    files, own = _open_records(vlm, sd, grid, every, out, config)
    captioner = Captioner(
        vlm, max_new_tokens=config.caption_tokens, batch_size=config.batch_size, progress=False
    )
    if config.progress:
        print(
            f"tune: {len(samples)} requests + {len(utility)} yes/no questions, "
            f"{len(grid)} configurations; {note}"
        )
    caps = captions_for(captioner, every)
    _run_all(vlm, sd, grid, every, caps, captioner, out, config, files, own)
    rows = rows_from_records(out / "records", grid, [DIRECT, COUNTERPART])
    by_name = {r["config"]: r for r in rows}
    grid_rows = [by_name[p.label] for p in grid]
    choice = choose(
        grid_rows,
        by_name[COUNTERPART]["benign_refusal"],
        by_name[DIRECT]["utility"],
        config.benign_margin,
        config.utility_margin,
        by_name[DIRECT]["benign_refusal"] if config.benign_baseline == "max" else None,
    )
    rec = None
    if choice.row is not None:
        point = next(p for p in grid if p.label == choice.row["config"])
        rec = {
            **point.settings(),
            "rule": choice.rule,
            "reason": choice.reason,
            "source": f"shiftdc tune -> {out}",
            "tuning_set": config.input or f"builtin:{config.split}:{','.join(config.attacks)}",
            "captions": config.captions,
            "n": {"harmful": choice.row["n_harmful"], "benign": choice.row["n_benign"]},
        }
        if config.store and direction_dir is not None:
            sd.recommend(rec, direction_dir)
    table = write_outputs(out, rows, grid, choice, rec, note, asdict(config))
    return table


@contextmanager
def shipped_direction_copy(out: str | Path) -> Iterator[Path | None]:
    """The testbed's shipped direction to tune, as a copy in OUT/direction (the shipped one
    stays as it is); None where none is shipped. If the run fails, a copy this call made is
    removed again, and OUT too where this call created it and left it empty."""
    out_existed = Path(out).exists()
    copy, made = copy_direction(out)
    try:
        yield copy
    except BaseException:
        if made:
            remove_copy(copy, out, out_existed)
        raise


def copy_direction(out: str | Path) -> tuple[Path | None, bool]:
    """The testbed's shipped direction copied to OUT/direction (where the recommendation is
    stored), and whether this call made the copy; (None, False) where none is shipped (`tune`
    then fits one)."""
    import shutil

    from shiftdc.testbed.build import shipped_direction

    src, dst = shipped_direction(), Path(out) / "direction"
    if src is None:
        return None, False
    if dst.is_dir():
        return dst, False
    shutil.copytree(src, dst)
    return dst, True


def remove_copy(copy: Path, out: str | Path, out_existed: bool) -> None:
    """Undo `copy_direction` after a failed run: the copy, and OUT if this run created it and
    left it empty."""
    import shutil

    shutil.rmtree(copy, ignore_errors=True)
    out = Path(out)
    if not out_existed and out.is_dir() and not any(out.iterdir()):
        out.rmdir()


def _open_records(
    vlm: VLM,
    sd: SafetyDirection,
    grid: Sequence[GridPoint],
    every: Sequence[Sample],
    out: Path,
    config: TuneConfig,
) -> tuple[dict[str, RecordFile], dict[str, dict[str, Any]]]:
    """records/<name>.jsonl of the baselines and every configuration, and the settings each
    pins; records made with other settings (or another tuning set) are refused."""
    common = {
        "model": vlm.fingerprint,
        "direction": sd.meta.get("data_fingerprint"),
        "requests": digest([s.id for s in every]),
        "captions": config.captions,
        "max_new_tokens": config.max_new_tokens,
        "caption_tokens": config.caption_tokens,
    }
    own = {DIRECT: {**common, "answers": DIRECT}, COUNTERPART: {**common, "answers": COUNTERPART}}
    own.update({p.label: {**common, "answers": "shiftdc", **p.settings()} for p in grid})
    files = {n: RecordFile.open(out / "records" / f"{n}.jsonl", "tune") for n in own}
    for n, settings in own.items():
        files[n].check_settings(settings)
    return files, own


def _run_all(
    vlm: VLM,
    sd: SafetyDirection,
    grid: list[GridPoint],
    every: list[Sample],
    caps: list[str | None],
    captioner: Captioner,
    out: Path,
    config: TuneConfig,
    files: dict[str, RecordFile],
    own: dict[str, dict[str, Any]],
) -> None:
    names = list(files)
    expected = {n: list(every) for n in names}
    expected[COUNTERPART] = [s for s in every if s.meta["kind"] != "utility"]
    done = {n: _done_ids(files[n], expected[n]) for n in names}
    total = sum(len(v) for v in expected.values())
    finished = sum(len(done[n]) for n in names)
    if finished:
        print(f"resuming {out}: {finished} of {total} answers already done")
    for n, settings in own.items():
        files[n].start(settings)
    judge = get_judge("keyword")
    sdcs = {
        p.label: ShiftDC(vlm, sd, **p.settings(), captioner=captioner, progress=False) for p in grid
    }
    bar = tqdm(
        total=total, initial=finished, desc="tune", unit="answer", disable=not config.progress
    )
    try:
        order = list(range(len(every)))
        for chunk in batches(order, config.batch_size):
            batch = [every[i] for i in chunk]
            bcaps = [caps[i] for i in chunk]

            def todo(name: str, batch: list[Sample] = batch) -> bool:
                return any(s.id not in done[name] for s in batch)

            n_new = 0
            if todo(DIRECT):
                texts = generate_plain(vlm, batch, config.max_new_tokens, batch_size=len(batch))
                n_new += _write(files[DIRECT], judge, batch, texts, done[DIRECT])
            pairs = [
                (s, c) for s, c in zip(batch, bcaps, strict=True) if s.meta["kind"] != "utility"
            ]
            if any(s.id not in done[COUNTERPART] for s, _ in pairs):
                tt = [s.text_only_prompt(c) for s, c in pairs]
                texts = generate_text(vlm, tt, config.max_new_tokens)
                n_new += _write(
                    files[COUNTERPART], judge, [s for s, _ in pairs], texts, done[COUNTERPART]
                )
            points = [p for p in grid if todo(p.label)]
            shared = measure_once(vlm, batch, bcaps) if points else None
            for p in points:
                cal = calibration_for(vlm, sd, p, shared)
                res = sdcs[p.label].generate_calibrated(batch, bcaps, cal, config.max_new_tokens)
                texts = [r.response for r in res]
                n_new += _write(files[p.label], judge, batch, texts, done[p.label])
            bar.update(n_new)
    finally:
        bar.close()
        for f in files.values():
            f.close()


def _done_ids(rf: RecordFile, samples: Sequence[Sample]) -> set[str]:
    """Ids of `samples` already answered in `rf` (changed inputs are refused)."""
    todo = {s.id for s in rf.pending(samples, sample_key)}
    return {s.id for s in samples if s.id not in todo}


def _write(
    rf: RecordFile, judge: Any, batch: Sequence[Sample], texts: Sequence[str], done: set[str]
) -> int:
    """Judge and append the answers not yet recorded; return how many were new."""
    verdicts = judge.judge([s.prompt for s in batch], list(texts))
    n = 0
    for s, t, v in zip(batch, texts, verdicts, strict=True):
        if s.id in done:
            continue
        rec: dict[str, Any] = {
            "id": s.id,
            "kind": s.meta["kind"],
            "response": t,
            "refused": bool(v.refused),
            "degenerate": is_degenerate(t),
        }
        if s.meta.get("form") is not None:
            rec["form"] = str(s.meta["form"])
        if s.meta["kind"] == "utility":
            rec["correct"] = parse_yes_no(t) == s.meta["answer"]
        rf.write(rec, sample_key(s))
        done.add(s.id)
        n += 1
    return n
