"""Command-line interface: parses flags, calls the library, prints. No logic of its own."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from shiftdc.errors import InputError, ShiftDCError
from shiftdc.images import DEFAULT_MAX_PIXELS, max_pixels, set_max_pixels

T = TypeVar("T")


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (argparse names the flag in its error)."""
    return _int_at_least(text, 1)


def nonnegative_int(text: str) -> int:
    """An argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
    return value


def nonnegative_float(text: str) -> float:
    """An argparse type: a finite number >= 0 (refuses nan and inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    value = nonnegative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def _comma_list(item: Callable[[str], T]) -> Callable[[str], list[T]]:
    """An argparse type: a comma-separated list, each entry checked by `item`."""

    def convert(text: str) -> list[T]:
        values = [item(part.strip()) for part in text.split(",") if part.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        return values

    return convert


def _shiftdc_args(p: argparse.ArgumentParser) -> None:
    """--mode/--alpha/--layers/--positions of a command that applies ShiftDC (unset: the
    direction's recommendation, else the defaults; `shiftdc.settings`)."""
    from shiftdc.modes import MODES
    from shiftdc.positions import POSITIONS
    from shiftdc.registry import cli_name

    p.add_argument(
        "--mode",
        type=cli_name(MODES, "mode"),
        choices=list(MODES),
        help=f"default: {RECOMMENDED}, else paper",
    )
    p.add_argument("--alpha", type=nonnegative_float, help=ALPHA_HELP)
    p.add_argument(
        "--layers",
        help=f"calibration layers A:B (-1: last layer; default: {RECOMMENDED}, else the "
        "direction's fit-time layers or L//2..L-1)",
    )
    p.add_argument(
        "--positions",
        type=cli_name(POSITIONS, "positions"),
        choices=list(POSITIONS),
        help=f"where corrections apply (default: {RECOMMENDED}, else last)",
    )


def _long_prompt_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--long-prompt",
        choices=["refuse", "truncate"],
        default="refuse",
        help="a request longer than the model's context (with the tokens to generate): "
        "refuse it (default, exit 2) or cut its text to fit; a truncated request's record "
        "says so in 'prompt_truncated'",
    )


if TYPE_CHECKING:
    from shiftdc.records import Tally
RECOMMENDED = "the direction's recommendation (shiftdc tune)"
ALPHA_HELP = (
    "strength of the correction: a finite number >= 0 (1: the paper; 0: measure only; "
    f"default: {RECOMMENDED}, else 1). Negative values are refused: they would push "
    "activations further from the text-only ones, away from safety"
)
MAX_FAILED_HELP = (
    "exit with status 3 when more than this fraction of the items failed (default 0.1); "
    "failed items are recorded with their error and retried by the next run"
)
OUT_HELP = (
    "records JSONL, written as it goes; the same command resumes it. Only this command's own "
    "output is reused (never another file); an input whose prompt, caption or image changed "
    "since it was recorded is refused, naming its id"
)


def _model_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    what = "Hugging Face hub id or local directory"
    p.add_argument(
        "--model",
        required=required,
        help=what
        if required
        else f"{what} (default: the testbed, built on first use, with its shipped direction)",
    )
    p.add_argument("--dtype", default="auto", help="float32 | bfloat16 | float16 | auto")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if any)")
    p.add_argument("--device-map", help="auto | balanced | sequential: split over GPUs/CPU/disk")
    p.add_argument("--max-memory", help="with --device-map: budgets like 0=20GiB,1=20GiB,cpu=64GiB")
    p.add_argument("--offload-folder", help="with --device-map: folder for disk-offloaded weights")
    p.add_argument("--batch-size", type=positive_int, default=8)
    p.add_argument(
        "--max-image-pixels",
        type=positive_int,
        default=DEFAULT_MAX_PIXELS,
        help="refuse images with more pixels than this, read from the file header before "
        f"decoding (default: {DEFAULT_MAX_PIXELS:,})",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _load(args: argparse.Namespace):
    from transformers.utils import logging as hf_logging

    from shiftdc.models import load_vlm

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    from shiftdc.distributed import rank_device

    return load_vlm(
        args.model,
        dtype=args.dtype,
        device=args.device or rank_device(),
        device_map=args.device_map,
        max_memory=args.max_memory,
        offload_folder=args.offload_folder,
    )


def _fit_context(vlm, samples: list, policy: str, new_tokens: int, caption_tokens=None) -> list:
    """Apply the long-prompt policy (see shiftdc.context) to the prompts these samples make."""
    from shiftdc.captions import CAPTION_PROMPT
    from shiftdc.context import fit_to_context

    if caption_tokens is not None:  # requests to self-caption first
        todo = {s.id for s in samples if s.image is not None and s.caption is None}
        fitted = fit_to_context(
            vlm, [s for s in samples if s.id in todo], policy, caption_tokens, CAPTION_PROMPT
        )
        by_id = {s.id: s for s in fitted}
        samples = [by_id.get(s.id, s) for s in samples]
    return fit_to_context(vlm, samples, policy, new_tokens) if new_tokens else samples


def _layers(spec: str | None, vlm) -> list[int] | None:
    from shiftdc.layers import resolve_layers

    return resolve_layers(spec, vlm.num_layers) if spec else None


def cmd_fit(args: argparse.Namespace) -> None:
    from shiftdc.io import read_samples
    from shiftdc.jobs import check_direction_out, fit_job

    safe, unsafe = read_samples(args.safe), read_samples(args.unsafe)
    check_direction_out(args.out)
    vlm = _load(args)
    safe = _fit_context(vlm, safe, "refuse", 0, args.caption_tokens)
    unsafe = _fit_context(vlm, unsafe, "refuse", 0, args.caption_tokens)
    d = fit_job(
        vlm,
        safe,
        unsafe,
        args.out,
        layers=_layers(args.layers, vlm),
        batch_size=args.batch_size,
        caption_tokens=args.caption_tokens,
        progress=not args.quiet,
    )
    print(
        f"direction fitted on {d.meta['n_safe']} safe + {d.meta['n_unsafe']} unsafe "
        f"requests, {d.num_layers} layers -> {args.out}"
    )


def cmd_caption(args: argparse.Namespace) -> None:
    from shiftdc.io import read_samples
    from shiftdc.jobs import caption_job
    from shiftdc.records import RecordFile

    samples = read_samples(args.input, require_image=True)
    RecordFile.open(args.out, "caption", overwrite=args.overwrite, inputs=[args.input])
    vlm = _load(args)
    samples = _fit_context(vlm, samples, args.long_prompt, 0, args.max_new_tokens)
    tally = caption_job(
        vlm,
        samples,
        args.out,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(f"{_done(tally, len(samples))} captions -> {args.out}")
    tally.check(args.max_failed)


def _done(tally: Tally, total: int) -> str:
    """'N of M done, F failed' for a job's records file."""
    failed = f", {tally.failed} failed" if tally.failed else ""
    return f"{tally.recorded - tally.failed} of {total} done{failed}"


def cmd_generate(args: argparse.Namespace) -> None:
    from shiftdc.io import read_samples
    from shiftdc.jobs import GenerateConfig, check_shiftdc_options, generate_job
    from shiftdc.records import RecordFile

    samples = read_samples(args.input)
    check_shiftdc_options(
        args.direction, args.layers, args.mode, args.alpha, args.captioner, args.positions
    )
    RecordFile.open(args.out, "generate", overwrite=args.overwrite, inputs=[args.input])
    vlm = _load(args)
    caption_tokens = args.caption_tokens if args.direction else None
    samples = _fit_context(vlm, samples, args.long_prompt, args.max_new_tokens, caption_tokens)
    config = GenerateConfig(
        direction=args.direction,
        mode=args.mode,
        alpha=args.alpha,
        layers=_layers(args.layers, vlm),
        positions=args.positions,
        max_new_tokens=args.max_new_tokens,
        caption_tokens=args.caption_tokens,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    captioner = None
    if args.captioner:
        from shiftdc.distributed import rank_device
        from shiftdc.models import load_vlm

        captioner = load_vlm(args.captioner, dtype=args.dtype, device=args.device or rank_device())
    tally = generate_job(vlm, samples, args.out, config, captioner=captioner)
    what = "ShiftDC" if args.direction else "plain"
    print(f"{_done(tally, len(samples))} {what} responses -> {args.out}")
    tally.check(args.max_failed)


def cmd_make_tiny(args: argparse.Namespace) -> None:
    from shiftdc.models.tiny import make_tiny_model

    out = make_tiny_model(args.family, args.out, seed=args.seed)
    print(f"tiny random {args.family} checkpoint -> {out} (random weights: mechanics only)")


def cmd_make_testbed(args: argparse.Namespace) -> None:
    from shiftdc.testbed.build import build_testbed

    out = build_testbed(args.out, force=args.force)
    print(f"testbed LLaVA checkpoint (SmolLM2-135M + committed small weights) -> {out}")


def cmd_demo(args: argparse.Namespace) -> None:
    if args.family is None:
        from shiftdc.testbed.demo import run_default_demo

        run_default_demo(args.out, model_dir=args.model, n=args.n, progress=not args.quiet)
        return
    from shiftdc.mechanics_demo import run_demo

    run_demo(args.out, family=args.family, progress=not args.quiet)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from shiftdc.eval.runs import RunConfig, evaluate, load_items, open_run
    from shiftdc.records import check_failed

    config = RunConfig(
        **_flags(
            RunConfig,
            args,
            data_dir=str(args.data_dir) if args.data_dir else None,
            direction=str(args.direction) if args.direction else None,
            judge_options=_judge_options(args),
            benchmark_options=_benchmark_options(args),
            defense_options=_given(args, "mode", "alpha", "layers", "positions"),
        )
    )
    config.validate()
    open_run(args.out)
    items = load_items(config)
    summary = evaluate(
        _load(args),
        config,
        args.out,
        batch_size=args.batch_size,
        progress=not args.quiet,
        items=items,
    )
    print(_headline(summary, args.out))
    check_failed(
        summary["n_errors"], summary["n_records"], args.max_failed, args.out / "records.jsonl"
    )


def _flags(config: type, args: argparse.Namespace, **by_hand: object) -> dict:
    """Keywords for the `config` dataclass: the flags named like its fields, then `by_hand`."""
    from dataclasses import fields

    names = {f.name for f in fields(config)}
    return {**{k: v for k, v in vars(args).items() if k in names}, **by_hand}


def _given(args: argparse.Namespace, *names: str) -> dict:
    """The flags among `names` that were set on the command line (not None)."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def _judge_options(args: argparse.Namespace) -> dict:
    opts = {}
    if getattr(args, "judge_model", None):
        opts["model"] = args.judge_model
    if getattr(args, "judge_template", None):
        opts["template"] = args.judge_template
    if getattr(args, "judge_context", None):
        if args.judge != "llm":
            raise InputError("--judge-context applies to --judge llm only")
        opts["context"] = args.judge_context
    return opts


def _benchmark_options(args: argparse.Namespace) -> dict:
    """Loader options from --subset/--scenarios/--formats (comma-separated lists)."""
    opts: dict = {}
    if args.subset:
        opts["subset"] = args.subset
    for key in ("scenarios", "formats"):
        value = getattr(args, key)
        if value:
            opts[key] = [v.strip() for v in value.split(",") if v.strip()]
    return opts


def _counting_args(p: argparse.ArgumentParser, default: str | None) -> None:
    """Flags that decide how records are counted (judge context, unparsed outputs, yes/no)."""
    p.add_argument(
        "--judge-context",
        choices=["request", "prompt"],
        help="llm judge: show it the request the attack encodes (default) or the prompt",
    )
    p.add_argument(
        "--unparsed-verdicts",
        choices=["not-harmful", "harmful", "exclude"],
        default=default,
        help="how an unparseable llm-judge output counts in ASR "
        + ("(default: not-harmful)" if default else "(default: as the run did)"),
    )
    p.add_argument(
        "--yes-no-rule",
        choices=["mme", "lenient"],
        default=default and "mme",
        help="utility answers: MME's official rule (yes/no word or in its first 4 "
        "characters, else wrong) or a lenient reading"
        + (" (default: mme)" if default else " (default: as the run did)"),
    )


def _headline(summary: dict, where: Path) -> str:
    from shiftdc.eval._format import pct

    return (
        f"{summary['defense']} | judge {summary['judge']} | ASR {pct(summary['asr'])} "
        f"(n={summary['n']}) | over-refusal {pct(summary.get('over_refusal'))} | "
        f"utility {pct(summary.get('utility'))} | failed {summary.get('n_errors', 0)} of "
        f"{summary.get('n_records', '?')} items -> {where}/report.md"
    )


def cmd_compare(args: argparse.Namespace) -> None:
    from shiftdc.eval.runs import compare_runs

    table = compare_runs(args.runs, out=args.out, by=args.by)
    print(table)


def cmd_rescore(args: argparse.Namespace) -> None:
    from shiftdc.eval.runs import rescore

    counting = {"unparsed_verdicts": args.unparsed_verdicts, "yes_no_rule": args.yes_no_rule}
    summary = rescore(
        args.run,
        args.judge,
        _judge_options(args),
        out_dir=args.out,
        counting=counting,
        progress=not args.quiet,
    )
    print(_headline(summary, args.out or args.run / f"rescore-{args.judge}"))


def cmd_analyze(args: argparse.Namespace) -> None:
    from shiftdc.analysis.model_run import AnalyzeConfig, analyze_model

    vlm = _load(args)
    config = AnalyzeConfig(
        **_flags(
            AnalyzeConfig,
            args,
            layers=_layers(args.calibrate_layers, vlm),
            n_folds=args.folds,
            tsne=not args.no_tsne,
            use_cache=not args.no_cache,
            progress=not args.quiet,
        )
    )
    res = analyze_model(vlm, args.out, config)
    b, a = res["findings"]["before"], res["findings"]["after"]
    print(
        f"layer {b['layer']}: text->vision probe accuracy {b['text_vision_accuracy']:.2f} before, "
        f"{a['text_vision_accuracy']:.2f} after ShiftDC -> {args.out}/analysis.md"
    )


def cmd_serve(args: argparse.Namespace) -> None:
    import os

    try:
        from shiftdc.serve import ServeConfig, serve
    except ImportError as exc:
        raise ShiftDCError(
            f"shiftdc serve needs its web packages ({exc.name} is missing): "
            'pip install "shiftdc[serve]"'
        ) from exc

    serve(
        ServeConfig(
            model=args.model,
            direction=args.direction,
            mode=args.mode,
            alpha=args.alpha,
            layers=args.layers,
            positions=args.positions,
            captioner=args.captioner,
            caption_tokens=args.caption_tokens,
            cache_dir=args.cache_dir,
            guard=not args.no_guard,
            allow_client_overrides=args.allow_client_overrides,
            playground=args.playground,
            playground_compare=args.playground_compare,
            served_model_name=args.served_model_name,
            dtype=args.dtype,
            device=args.device,
            host=args.host,
            port=args.port,
            api_key=args.api_key or os.environ.get("SHIFTDC_API_KEY") or None,
            batch_wait_ms=args.batch_wait_ms,
            max_batch_size=args.max_batch_size,
            max_queue=args.max_queue,
            timeout_s=args.timeout,
            max_body_bytes=args.max_body_bytes,
            max_image_bytes=args.max_image_bytes,
            max_pixels=args.max_pixels,
            max_tokens=args.max_tokens,
            default_max_tokens=args.default_max_tokens,
        )
    )


def cmd_tune(args: argparse.Namespace) -> None:
    from shiftdc.tuning import TuneConfig, tune
    from shiftdc.tuning.grid import split_layer_specs

    config = TuneConfig(
        **_flags(
            TuneConfig,
            args,
            layer_specs=split_layer_specs(args.layers) if args.layers else None,
            alphas=args.alpha,
            attacks=args.attacks.split(","),
            input=str(args.input) if args.input else None,
            limit=args.limit or None,
            progress=not args.quiet,
            store=not args.no_store,
        )
    )
    direction, made, out_existed = args.direction, False, args.out.exists()
    if args.model is None:
        from shiftdc.testbed.build import ensure_testbed
        from shiftdc.tuning.run import copy_direction

        args.model = str(ensure_testbed())
        if direction is None:  # tune a copy: the shipped direction stays as it is
            direction, made = copy_direction(args.out)
    try:
        table = tune(_load(args), args.out, config, direction=direction)
    except BaseException:
        if made:
            from shiftdc.tuning.run import remove_copy

            remove_copy(direction, args.out, out_existed)
        raise
    rec = table["recommendation"]
    where = "" if args.no_store or rec is None else " (stored with the direction)"
    print(f"recommended: {table['recommended']}{where}; {table['reason']} -> {args.out}/table.md")


class _Parser(argparse.ArgumentParser):
    """argparse with the project's rule for bad input: one line, exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _fraction(text: str) -> float:
    from shiftdc.records import valid_fraction

    try:
        return valid_fraction(float(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected a fraction between 0 and 1, got {text!r}"
        ) from exc


def build_parser() -> argparse.ArgumentParser:
    from shiftdc.data import BENCHMARKS
    from shiftdc.eval.defenses import DEFENSES
    from shiftdc.eval.judges import JUDGES
    from shiftdc.models.families import FAMILIES
    from shiftdc.modes import MODES
    from shiftdc.positions import POSITIONS
    from shiftdc.registry import cli_name

    def names(table, what: str) -> dict:
        """argparse keywords for a name drawn from a registry ('_' and '-' alike)."""
        return dict(type=cli_name(table, what), choices=list(table))

    ap = _Parser(
        prog="shiftdc",
        description="Training-free safety calibration of vision-language models (ShiftDC).",
    )
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fit", help="fit a safety direction from safe/unsafe request JSONL")
    _model_args(p)
    p.add_argument("--safe", type=Path, required=True)
    p.add_argument("--unsafe", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="directory for the direction")
    p.add_argument(
        "--layers", help="default calibration layers, A:B (inclusive; negative counts from the end)"
    )
    p.add_argument("--caption-tokens", type=positive_int, default=128)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("caption", help="query-aware self-captions for image requests")
    _model_args(p)
    p.add_argument("--input", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help=OUT_HELP)
    p.add_argument("--max-failed", type=_fraction, default=0.1, help=MAX_FAILED_HELP)
    p.add_argument("--max-new-tokens", type=positive_int, default=128)
    _long_prompt_arg(p)
    p.add_argument("--overwrite", action="store_true", help="start over instead of resuming")
    p.set_defaults(func=cmd_caption)

    p = sub.add_parser("generate", help="generate responses, with ShiftDC if --direction")
    _model_args(p)
    p.add_argument("--input", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help=OUT_HELP)
    p.add_argument("--max-failed", type=_fraction, default=0.1, help=MAX_FAILED_HELP)
    p.add_argument("--direction", type=Path, help="saved direction; omit for plain generation")
    _shiftdc_args(p)
    p.add_argument("--max-new-tokens", type=positive_int, default=128)
    p.add_argument("--caption-tokens", type=positive_int, default=128)
    p.add_argument(
        "--captioner",
        metavar="MODEL",
        help="a separate (smaller, faster) VLM for the self-captions, which dominate "
        "ShiftDC's cost; default: the model itself. Caveat: the paper's attack success "
        "rates assume self-captions; another model's captions change the text-only "
        "counterpart, so measure ASR with `shiftdc evaluate` before relying on it",
    )
    _long_prompt_arg(p)
    p.add_argument("--overwrite", action="store_true", help="start over instead of resuming")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("evaluate", help="attack success / over-refusal / utility of a defense")
    _model_args(p)
    p.add_argument("--benchmark", default="builtin", **names(BENCHMARKS, "benchmark"))
    p.add_argument("--data-dir", type=Path, help="benchmark folder (not needed for builtin)")
    p.add_argument("--defense", default="none", **names(DEFENSES, "defense"))
    p.add_argument("--judge", default="keyword", **names(JUDGES, "judge"))
    p.add_argument("--judge-model", help="local path or hub id of the llm judge's chat model")
    p.add_argument("--judge-template", help="llm judge prompt: llamaguard | yesno")
    p.add_argument("--direction", type=Path, help="saved direction for the shiftdc defenses")
    _shiftdc_args(p)
    p.add_argument(
        "--captions",
        choices=["self", "given"],
        default="self",
        help="shiftdc: self-captions (the method) or the benchmark's known captions",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="run directory: new, empty or this evaluate run (resumed; items whose content "
        "changed since they were recorded are refused, naming their ids)",
    )
    p.add_argument("--max-failed", type=_fraction, default=0.1, help=MAX_FAILED_HELP)
    p.add_argument("--limit", type=positive_int, help="a seeded subsample of N items")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--max-new-tokens", type=positive_int, default=128)
    p.add_argument("--caption-tokens", type=positive_int, default=128)
    _long_prompt_arg(p)
    p.add_argument(
        "--subset", help="figstep: full | tiny (SafeBench-Tiny); jailbreakv: full | mini"
    )
    p.add_argument(
        "--scenarios", help="mm-safetybench: comma-separated names or numbers (default: present)"
    )
    p.add_argument(
        "--formats",
        help="jailbreakv: comma-separated groups (FigStep, Query-relevant, LLM-transfer) or "
        "format values (figstep, SD, typo, SD_typo, Template, ...); default: the two image groups",
    )
    _counting_args(p, "not-harmful")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("analyze", help="diagnose safety perception distortion, before/after")
    _model_args(p)
    p.add_argument("--benchmark", default="builtin", **names(BENCHMARKS, "benchmark"))
    p.add_argument("--data-dir", type=Path, help="benchmark folder (not needed for builtin)")
    p.add_argument("--out", type=Path, required=True, help="folder for figures and analysis.md")
    p.add_argument(
        "--layer", type=int, help="layer for maps and confusion (default: best probe; -1: last)"
    )
    p.add_argument("--direction", type=Path, help="saved direction (default: fit on built-in set)")
    p.add_argument("--run", type=Path, help="`shiftdc evaluate` run of this model: attack outcomes")
    p.add_argument("--limit", type=positive_int, help="at most N safe and N unsafe image requests")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument(
        "--mode",
        help=f"ShiftDC mode for 'after' (default: {RECOMMENDED}, else paper)",
        **names(MODES, "mode"),
    )
    p.add_argument("--alpha", type=nonnegative_float, help=ALPHA_HELP)
    p.add_argument("--calibrate-layers", dest="calibrate_layers", help="ShiftDC layers A:B")
    p.add_argument(
        "--captions",
        choices=["auto", "self"],
        default="auto",
        help="auto: ground-truth captions where known, else self-captions",
    )
    p.add_argument("--caption-tokens", type=positive_int, default=128)
    p.add_argument("--folds", type=positive_int, default=5, help="probe cross-validation folds")
    p.add_argument("--no-tsne", action="store_true", help="PCA maps only (t-SNE is slower)")
    p.add_argument("--cache-dir", type=Path, help="activation cache (default: $SHIFTDC_CACHE)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("tune", help="choose ShiftDC's layers/alpha/mode on a tuning set")
    _model_args(p, required=False)
    p.add_argument("--direction", type=Path, help="saved direction (default: fit the built-in)")
    p.add_argument("--out", type=Path, required=True, help="folder for tables, plot, records")
    p.add_argument("--layers", help="layer ranges to try, e.g. 8:29,15:29 (default: 3 ranges)")
    p.add_argument(
        "--alpha", type=_comma_list(positive_float), help="strengths to try, e.g. 0.25,0.5,1,2"
    )
    p.add_argument(
        "--modes",
        type=_comma_list(cli_name(MODES, "mode")),
        default=["paper"],
        help=f"comma list of {', '.join(MODES)} (default: paper)",
    )
    p.add_argument(
        "--positions",
        type=_comma_list(cli_name(POSITIONS, "positions")),
        default=["last"],
        help=f"comma list of {', '.join(POSITIONS)} (default: last)",
    )
    p.add_argument("--input", type=Path, help="your tuning JSONL: id, image, prompt, kind")
    p.add_argument("--split", default="tune", help="built-in split to tune on (default: tune)")
    p.add_argument("--attacks", default="TYPO", help="built-in image attacks, comma list")
    p.add_argument(
        "--benign-baseline",
        choices=["counterpart", "max"],
        default="counterpart",
        help="the rule's benign limit starts from the counterpart's rate, or (max) from the "
        "larger of it and the unsteered model's own rate on the images",
    )
    p.add_argument(
        "--limit", type=nonnegative_int, default=12, help="at most N harmful and N benign (0: all)"
    )
    p.add_argument("--utility", type=nonnegative_int, default=8, help="yes/no questions (0: skip)")
    p.add_argument("--captions", choices=["self", "given"], default="self")
    p.add_argument("--max-new-tokens", type=positive_int, default=24)
    p.add_argument("--caption-tokens", type=positive_int, default=32)
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--no-store", action="store_true", help="do not write into the direction")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("compare", help="side-by-side table of evaluation runs")
    p.add_argument("runs", type=Path, nargs="+")
    p.add_argument("--by", choices=["attack", "scenario"], default="attack")
    p.add_argument("--out", type=Path, help="write the table here (default: print only)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("rescore", help="re-judge a run's responses without regenerating")
    p.add_argument("run", type=Path)
    p.add_argument("--judge", required=True, **names(JUDGES, "judge"))
    p.add_argument("--judge-model")
    p.add_argument("--judge-template")
    _counting_args(p, None)
    p.add_argument("--out", type=Path, help="default: RUN/rescore-<judge>")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_rescore)

    p = sub.add_parser("make-tiny-model", help="build a tiny random offline checkpoint")
    p.add_argument("--family", required=True, **names(FAMILIES, "family"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.set_defaults(func=cmd_make_tiny)

    p = sub.add_parser("make-testbed", help="build the miniature safety-aligned LLaVA testbed")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--force", action="store_true", help="rebuild even if already built")
    p.set_defaults(func=cmd_make_testbed)

    p = sub.add_parser("demo", help="refusal gap and ShiftDC on the testbed (or a tiny model)")
    p.add_argument("--out", type=Path, default=Path("demo-out"))
    p.add_argument(
        "--family",
        default=None,
        **names(FAMILIES, "family"),
        help="run the mechanics-only demo on a tiny random model of this family instead",
    )
    p.add_argument("--model", type=Path, help="testbed folder (default: built on first use)")
    p.add_argument(
        "-n",
        type=positive_int,
        default=40,
        help="held-out requests of each kind (40: the measured set)",
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="OpenAI-compatible server with ShiftDC on every request")
    p.add_argument("--model", help="hub id or local directory (default: the testbed)")
    p.add_argument("--direction", type=Path, help="saved direction (default: built-in set)")
    _shiftdc_args(p)
    p.add_argument("--captioner", help="smaller VLM for self-captions (default: the model)")
    p.add_argument("--caption-tokens", type=positive_int, default=128)
    p.add_argument("--cache-dir", type=Path, help="caption cache (default: $SHIFTDC_CACHE)")
    p.add_argument("--no-guard", action="store_true", help="serve unguarded (for comparisons)")
    p.add_argument(
        "--allow-client-overrides",
        action="store_true",
        help='let clients set extra_body={"shiftdc": {"enabled", "mode", "alpha"}}',
    )
    p.add_argument("--playground", action="store_true", help="serve the playground page at /")
    p.add_argument(
        "--playground-compare",
        action="store_true",
        help="show unguarded answers beside guarded ones: lets ANY caller holding the API key "
        'send "shiftdc": {"enabled": false} (off by default)',
    )
    p.add_argument("--served-model-name", help="model id clients send (default: folder name)")
    p.add_argument("--dtype", default="auto", help="float32 | bfloat16 | float16 | auto")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if any)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--api-key", help="require Authorization: Bearer KEY (or $SHIFTDC_API_KEY)")
    p.add_argument("--batch-wait-ms", type=nonnegative_float, default=10.0)
    p.add_argument("--max-batch-size", type=positive_int, default=8)
    p.add_argument("--max-queue", type=positive_int, default=64, help="waiting requests before 429")
    p.add_argument("--timeout", type=nonnegative_float, default=300.0, help="per-request seconds")
    p.add_argument("--max-body-bytes", type=positive_int, default=20 * 1024 * 1024)
    p.add_argument("--max-image-bytes", type=positive_int, default=10 * 1024 * 1024)
    p.add_argument("--max-pixels", type=positive_int, default=4096 * 4096)
    p.add_argument(
        "--max-tokens", type=positive_int, default=512, help="output tokens one request may ask"
    )
    p.add_argument("--default-max-tokens", type=positive_int, default=128)
    p.set_defaults(func=cmd_serve)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `shiftdc` command; returns the exit status."""
    previous_limit = max_pixels()
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a bad flag (one line printed)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        if hasattr(args, "max_image_pixels"):
            set_max_pixels(args.max_image_pixels)
        if getattr(args, "device", None):
            from shiftdc.models.loading import check_device

            check_device(args.device)
        args.func(args)
    except ShiftDCError as exc:
        print(f"shiftdc {args.command}: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_status", 2)
    except (OSError, ValueError) as exc:
        print(f"shiftdc {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    finally:
        set_max_pixels(previous_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
