"""analyze_model: the diagnosis of a real model on a benchmark, before and after ShiftDC.

The logic behind `shiftdc analyze`: pick the benchmark's image requests, check the inputs,
get a safety direction, collect the four activation sets (and their calibrated twins),
read attack outcomes from an evaluation run when given, and hand the arrays to
`analyze_arrays`.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shiftdc.errors import InputError
from shiftdc.method.captions import Captioner
from shiftdc.method.direction import load_or_fit_direction
from shiftdc.method.layers import resolve_layer
from shiftdc.method.modes import MODES
from shiftdc.method.pipeline import ShiftDC
from shiftdc.models.loading import VLM
from shiftdc.registry import canonical

from .array_report import analyze_arrays
from .collect import CAPTION_MODES, Collected, check_caption_mode, collect_sets
from .plots import write_json
from .probes import check_probe_counts

if TYPE_CHECKING:
    from shiftdc.data.item import EvalItem


ITEMS_FILE = "items.json"


def select_items(
    items: Sequence[EvalItem],
    limit: int | None = None,
    seed: int = 0,
    benchmark: str = "",
    judged: Collection[str] | None = None,
) -> tuple[list[EvalItem], list[EvalItem]]:
    """(safe, unsafe): benign and harmful items with images, each capped at `limit`.

    With `judged` (ids an evaluation run has verdicts for) and a limit, unsafe items are
    drawn from the judged ones only.
    """
    from shiftdc.data import subsample

    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    groups = {
        kind: [it for it in items if it.kind == kind and it.has_image]
        for kind in ("benign", "harmful")
    }
    for kind, group in groups.items():
        if not group:
            text_only = sum(it.kind == kind and not it.has_image for it in items)
            raise InputError(
                f"benchmark {benchmark or '?'} has no {kind} requests with images "
                f"({text_only} text-only ones); the analysis compares safe and unsafe image "
                "requests: use a benchmark with both (builtin, vlguard)"
            )
    if limit is None:
        return groups["benign"], groups["harmful"]
    harmful = groups["harmful"]
    if judged is not None:
        pool = [it for it in harmful if it.id in judged]
        if len(pool) < min(limit, len(harmful)):
            raise InputError(
                f"the run judged {len(pool)} of the {len(harmful)} harmful image requests, "
                f"fewer than --limit {limit}: lower --limit to {len(pool)} or evaluate more "
                "items in that run"
            )
        harmful = pool
    return subsample(groups["benign"], limit, seed), subsample(harmful, limit, seed)


def check_counts(n_safe: int, n_unsafe: int, n_folds: int) -> None:
    """InputError (one line) unless each set can be split into `n_folds` probe folds."""
    counts = {"tt_safe": n_safe, "tt_unsafe": n_unsafe, "vl_safe": n_safe, "vl_unsafe": n_unsafe}
    try:
        check_probe_counts(counts, n_folds)
    except ValueError as exc:
        raise InputError(f"{exc} (command line: raise --limit or pass --folds 2)") from exc


def check_model_layer(layer: int | None, vlm: VLM) -> int | None:
    """`layer` as an index into the model's decoder layers; InputError naming the valid range."""
    return None if layer is None else resolve_layer(layer, vlm.num_layers)


def _same_model(a: object, b: str) -> bool:
    """Same model name, or two paths to the same local directory."""
    if a == b:
        return True
    if not isinstance(a, str):
        return False
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()


def run_verdicts(
    run_dir: str | Path, model: str, benchmark: str, seed: int
) -> tuple[dict[str, bool], dict[str, Any]]:
    """{item id: attack succeeded (judged harmful)} of a run of `model`, and the run's info."""
    from shiftdc.eval.runs import read_records, read_run_config

    d = Path(run_dir)
    cfg = read_run_config(d)
    if not _same_model(cfg.get("model"), model):
        raise InputError(
            f"run {d} was made with model {cfg.get('model')!r}, not {model!r}: its verdicts "
            "describe another model; pass a run of this model"
        )
    for key, value in (("benchmark", benchmark), ("seed", seed)):
        if key in cfg and cfg[key] != value:
            raise InputError(
                f"run {d} evaluated {key} {cfg[key]!r} but the analysis uses {value!r}; "
                f"pass --{key} {cfg[key]} (item ids must name the same requests)"
            )
    verdicts = {
        str(r["id"]): bool(r["verdict"]["harmful"])
        for r in read_records(d)
        if "id" in r and isinstance(r.get("verdict"), dict) and "harmful" in r["verdict"]
    }
    info = {"run": str(d), **{k: cfg.get(k) for k in ("defense", "judge")}}
    return verdicts, info


def run_outcomes(
    verdicts: dict[str, bool], unsafe_ids: Sequence[str], run_dir: str | Path
) -> np.ndarray:
    """One outcome per analysed unsafe item; InputError if the run lacks any of them."""
    missing = [i for i in unsafe_ids if i not in verdicts]
    if missing:
        covered = len(unsafe_ids) - len(missing)
        raise InputError(
            f"run {run_dir} has no judge verdict for {len(missing)} of the {len(unsafe_ids)} "
            f"analysed unsafe items (e.g. {missing[0]!r}); evaluate them in that run, or pass "
            f"--limit {covered} to analyse only items it covers"
        )
    return np.array([verdicts[i] for i in unsafe_ids], dtype=bool)


def _write_items(out: Path, col: Collected, outcomes: np.ndarray | None) -> None:
    """items.json: which request each row of each set is, with its caption and outcome."""
    rows = []
    for kind in ("safe", "unsafe"):
        for i, item_id in enumerate(col.ids[kind]):
            row = {
                "set_row": i,
                "kind": kind,
                "id": item_id,
                "caption_source": col.caption_source[item_id],
                "caption": col.captions.get(item_id),
            }
            if kind == "unsafe" and outcomes is not None:
                row["attack_succeeded"] = bool(outcomes[i])
            rows.append(row)
    write_json(out / ITEMS_FILE, {"rows": rows})


@dataclass
class AnalyzeConfig:
    """Everything `analyze_model` needs besides the model and the output folder."""

    benchmark: str = "builtin"
    data_dir: str | Path | None = None
    seed: int = 0
    limit: int | None = None
    layer: int | None = None
    direction: str | Path | None = None
    run: str | Path | None = None
    mode: str | None = None  # None: the direction's recommendation, else paper
    alpha: float | None = None  # None: the direction's recommendation, else 1
    layers: list[int] | None = None  # calibration layers; None: recommendation, else default
    captions: str = "auto"
    caption_tokens: int = 128
    batch_size: int = 8
    n_folds: int = 5
    tsne: bool = True
    cache_dir: str | Path | None = None
    use_cache: bool = True
    progress: bool = True


def analyze_model(
    vlm: VLM, out_dir: str | Path, config: AnalyzeConfig | None = None
) -> dict[str, Any]:
    """Diagnose `vlm` on a benchmark before and after ShiftDC; write figures, analysis.json,
    analysis.md and items.json to out_dir; return analysis.json's content."""
    c = config if config is not None else AnalyzeConfig()
    benchmark, data_dir, seed, limit, layer = c.benchmark, c.data_dir, c.seed, c.limit, c.layer
    direction, run, mode, captions = c.direction, c.run, c.mode, c.captions
    caption_tokens, batch_size, n_folds, progress = (
        c.caption_tokens,
        c.batch_size,
        c.n_folds,
        c.progress,
    )
    from shiftdc.data import load_benchmark

    check_caption_mode(captions)
    mode = canonical(MODES, mode, "mode") if mode is not None else None
    layer = check_model_layer(layer, vlm)
    verdicts, run_info = run_verdicts(run, vlm.name, benchmark, seed) if run else (None, None)
    items = load_benchmark(benchmark, data_dir=Path(data_dir) if data_dir else None, seed=seed)
    safe, unsafe = select_items(items, limit, seed, benchmark, verdicts)
    check_counts(len(safe), len(unsafe), n_folds)
    outcomes = None
    if verdicts is not None:
        outcomes = run_outcomes(verdicts, [it.id for it in unsafe], run)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sd, note = load_or_fit_direction(vlm, direction, [*safe, *unsafe], out, seed, batch_size)
    t_direction = time.perf_counter() - t0
    captioner = Captioner(vlm, max_new_tokens=caption_tokens, batch_size=batch_size, progress=False)
    sdc = ShiftDC(
        vlm,
        sd,
        mode=mode,
        alpha=c.alpha,
        layers=c.layers,
        positions="last",  # 'after' is read at the last prompt token, where it is corrected
        batch_size=batch_size,
        progress=False,
        captioner=captioner,
    )
    if progress:
        print(f"ShiftDC: {sdc.settings.describe()}")
    col = collect_sets(
        vlm,
        safe,
        unsafe,
        shiftdc=sdc,
        captions=captions,
        captioner=captioner,
        cache_dir=c.cache_dir,
        use_cache=c.use_cache,
        batch_size=batch_size,
        progress=progress,
    )
    t_collect = time.perf_counter() - t0 - t_direction
    n_self = sum(v == "self" for v in col.caption_source.values())
    context = {
        "model": f"{vlm.name} ({vlm.family}, {vlm.num_layers} layers, "
        f"fingerprint {vlm.fingerprint})",
        "benchmark": f"{benchmark} (seed {seed}); {len(safe)} benign and {len(unsafe)} harmful "
        "image requests, each as image+query and as its text-only counterpart",
        "captions": f"{captions}: {CAPTION_MODES[captions]}; {n_self} self-captioned, "
        f"{len(col.caption_source) - n_self} ground truth",
        "safety direction": note,
        "ShiftDC": f"{sdc.mode} mode, layers {sdc.layers[0]}..{sdc.layers[-1]}, alpha {sdc.alpha}; "
        "'after' reads the vision-language sets on the calibrated stream",
        "attack outcomes": "none given"
        if run_info is None
        else f"judge verdicts of run {run_info['run']} (defense {run_info['defense']}, "
        f"judge {run_info['judge']}); succeeded = judged harmful",
        "activation cache": ", ".join(
            f"{k} {'hit' if v else 'computed'}" for k, v in col.cache_hits.items()
        ),
        "seconds": f"direction {t_direction:.1f}, activations {t_collect:.1f}",
    }
    _write_items(out, col, outcomes)
    return analyze_arrays(
        col.before,
        out,
        layer,
        after=col.after,
        outcomes=outcomes,
        s=sd.vectors.numpy(),
        paired=True,
        n_folds=n_folds,
        seed=seed,
        tsne=c.tsne,
        progress=progress,
        context=context,
    )
