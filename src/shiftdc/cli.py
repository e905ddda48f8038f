"""Command-line interface: parses flags, calls the library, prints. No logic of its own."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from shiftdc.errors import ShiftDCError


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
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _load(args: argparse.Namespace):
    from transformers.utils import logging as hf_logging

    from shiftdc.models import load_vlm

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    return load_vlm(args.model, dtype=args.dtype, device=args.device)


def _layers(spec: str | None, vlm) -> list[int] | None:
    from shiftdc.layers import resolve_layers

    return resolve_layers(spec, vlm.num_layers) if spec else None


def cmd_fit(args: argparse.Namespace) -> None:
    from shiftdc.io import read_samples
    from shiftdc.jobs import fit_job

    safe, unsafe = read_samples(args.safe), read_samples(args.unsafe)
    vlm = _load(args)
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

    samples = read_samples(args.input, require_image=True)
    n = caption_job(
        _load(args),
        samples,
        args.out,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(f"wrote {n} captions -> {args.out}")


def cmd_generate(args: argparse.Namespace) -> None:
    from shiftdc.io import read_samples
    from shiftdc.jobs import check_shiftdc_options, generate_job

    samples = read_samples(args.input)
    check_shiftdc_options(
        args.direction, args.layers, args.mode, args.alpha, args.captioner, args.positions
    )
    vlm = _load(args)
    layers = _layers(args.layers, vlm)
    captioner = None
    if args.captioner:
        from shiftdc.models import load_vlm

        captioner = load_vlm(args.captioner, dtype=args.dtype, device=args.device)
    n = generate_job(
        vlm,
        samples,
        args.out,
        direction=args.direction,
        mode=args.mode,
        alpha=args.alpha,
        layers=layers,
        positions=args.positions,
        max_new_tokens=args.max_new_tokens,
        caption_tokens=args.caption_tokens,
        captioner=captioner,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    what = "ShiftDC" if args.direction else "plain"
    print(f"wrote {n} {what} responses -> {args.out}")


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
    from shiftdc.demo import run_demo

    run_demo(args.out, family=args.family, progress=not args.quiet)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from shiftdc.eval.runs import RunConfig, evaluate

    config = RunConfig(
        **_flags(
            RunConfig,
            args,
            data_dir=str(args.data_dir) if args.data_dir else None,
            direction=str(args.direction) if args.direction else None,
            judge_options=_judge_options(args),
        )
    )
    config.validate()
    summary = evaluate(
        _load(args),
        config,
        args.out,
        batch_size=args.batch_size,
        progress=not args.quiet,
    )
    print(_headline(summary, args.out))


def _flags(config: type, args: argparse.Namespace, **by_hand: object) -> dict:
    """Keywords for the `config` dataclass: the flags named like its fields, then `by_hand`."""
    from dataclasses import fields

    names = {f.name for f in fields(config)}
    return {**{k: v for k, v in vars(args).items() if k in names}, **by_hand}


def _judge_options(args: argparse.Namespace) -> dict:
    opts = {}
    if getattr(args, "judge_model", None):
        opts["model"] = args.judge_model
    if getattr(args, "judge_template", None):
        opts["template"] = args.judge_template
    return opts


def _headline(summary: dict, where: Path) -> str:
    from shiftdc.eval._format import pct

    return (
        f"{summary['defense']} | judge {summary['judge']} | ASR {pct(summary['asr'])} "
        f"(n={summary['n']}) | over-refusal {pct(summary.get('over_refusal'))} | "
        f"utility {pct(summary.get('utility'))} -> {where}/report.md"
    )


def cmd_compare(args: argparse.Namespace) -> None:
    from shiftdc.eval.runs import compare_runs

    table = compare_runs(args.runs, out=args.out, by=args.by)
    print(table)


def cmd_rescore(args: argparse.Namespace) -> None:
    from shiftdc.eval.runs import rescore

    summary = rescore(args.run, args.judge, _judge_options(args), out_dir=args.out)
    print(_headline(summary, args.out or args.run / f"rescore-{args.judge}"))


def cmd_analyze(args: argparse.Namespace) -> None:
    from shiftdc.analysis.run import AnalyzeConfig, analyze_model

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


def cmd_tune(args: argparse.Namespace) -> None:
    from shiftdc.tuning import TuneConfig, tune
    from shiftdc.tuning.grid import split_layer_specs

    config = TuneConfig(
        **_flags(
            TuneConfig,
            args,
            layer_specs=split_layer_specs(args.layers) if args.layers else None,
            alphas=[float(a) for a in args.alpha.split(",")] if args.alpha else None,
            modes=args.modes.split(","),
            positions=args.positions.split(","),
            attacks=args.attacks.split(","),
            input=str(args.input) if args.input else None,
            limit=args.limit or None,
            progress=not args.quiet,
            store=not args.no_store,
        )
    )
    direction = args.direction
    if args.model is None:
        from shiftdc.testbed.build import ensure_testbed
        from shiftdc.tuning.run import copy_direction

        args.model = str(ensure_testbed())
        direction = direction or copy_direction(args.out)  # the shipped one stays as it is
    table = tune(_load(args), args.out, config, direction=direction)
    rec = table["recommendation"]
    where = "" if args.no_store or rec is None else " (stored with the direction)"
    print(f"recommended: {table['recommended']}{where}; {table['reason']} -> {args.out}/table.md")


RECOMMENDED = "the direction's recommendation (shiftdc tune)"


class _Parser(argparse.ArgumentParser):
    """argparse with the project's rule for bad input: one line, exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from shiftdc.data import BENCHMARKS
    from shiftdc.eval.defenses import DEFENSES
    from shiftdc.eval.judges import JUDGES
    from shiftdc.models.registry import FAMILIES
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
    p.add_argument("--caption-tokens", type=int, default=128)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("caption", help="query-aware self-captions for image requests")
    _model_args(p)
    p.add_argument("--input", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--overwrite", action="store_true", help="start over instead of resuming")
    p.set_defaults(func=cmd_caption)

    p = sub.add_parser("generate", help="generate responses, with ShiftDC if --direction")
    _model_args(p)
    p.add_argument("--input", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--direction", type=Path, help="saved direction; omit for plain generation")
    p.add_argument("--mode", help=f"default: {RECOMMENDED}, else paper", **names(MODES, "mode"))
    p.add_argument("--alpha", type=float, help=f"default: {RECOMMENDED}, else 1")
    p.add_argument(
        "--layers",
        help=f"calibration layers A:B (-1: last layer; default: {RECOMMENDED}, else the "
        "direction's fit-time layers or L//2..L-1)",
    )
    p.add_argument(
        "--positions",
        help=f"where corrections apply (default: {RECOMMENDED}, else last)",
        **names(POSITIONS, "positions"),
    )
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--caption-tokens", type=int, default=128)
    p.add_argument(
        "--captioner",
        metavar="MODEL",
        help="a separate (smaller, faster) VLM for the self-captions, which dominate "
        "ShiftDC's cost; default: the model itself. Caveat: the paper's attack success "
        "rates assume self-captions; another model's captions change the text-only "
        "counterpart, so measure ASR with `shiftdc evaluate` before relying on it",
    )
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
    p.add_argument(
        "--captions",
        choices=["self", "given"],
        default="self",
        help="shiftdc: self-captions (the method) or the benchmark's known captions",
    )
    p.add_argument("--out", type=Path, required=True, help="run directory (resumable)")
    p.add_argument("--limit", type=int, help="a seeded subsample of N items")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--caption-tokens", type=int, default=128)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("analyze", help="diagnose safety perception distortion, before/after")
    _model_args(p)
    p.add_argument("--benchmark", default="builtin", **names(BENCHMARKS, "benchmark"))
    p.add_argument("--data-dir", type=Path, help="benchmark folder (not needed for builtin)")
    p.add_argument("--out", type=Path, required=True, help="folder for figures and analysis.md")
    p.add_argument("--layer", type=int, help="layer for maps and confusion (default: best probe)")
    p.add_argument("--direction", type=Path, help="saved direction (default: fit on built-in set)")
    p.add_argument("--run", type=Path, help="`shiftdc evaluate` run of this model: attack outcomes")
    p.add_argument("--limit", type=int, help="at most N safe and N unsafe image requests")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--mode",
        help=f"ShiftDC mode for 'after' (default: {RECOMMENDED}, else paper)",
        **names(MODES, "mode"),
    )
    p.add_argument("--alpha", type=float, help=f"default: {RECOMMENDED}, else 1")
    p.add_argument("--calibrate-layers", dest="calibrate_layers", help="ShiftDC layers A:B")
    p.add_argument(
        "--captions",
        choices=["auto", "self"],
        default="auto",
        help="auto: ground-truth captions where known, else self-captions",
    )
    p.add_argument("--caption-tokens", type=int, default=128)
    p.add_argument("--folds", type=int, default=5, help="probe cross-validation folds")
    p.add_argument("--no-tsne", action="store_true", help="PCA maps only (t-SNE is slower)")
    p.add_argument("--cache-dir", type=Path, help="activation cache (default: $SHIFTDC_CACHE)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("tune", help="choose ShiftDC's layers/alpha/mode on a tuning set")
    _model_args(p, required=False)
    p.add_argument("--direction", type=Path, help="saved direction (default: fit the built-in)")
    p.add_argument("--out", type=Path, required=True, help="folder for tables, plot, records")
    p.add_argument("--layers", help="layer ranges to try, e.g. 8:29,15:29 (default: 3 ranges)")
    p.add_argument("--alpha", help="strengths to try, e.g. 0.25,0.5,1,2 (default: 1,2)")
    p.add_argument("--modes", default="paper", help=f"comma list of {', '.join(MODES)}")
    p.add_argument("--positions", default="last", help=f"comma list of {', '.join(POSITIONS)}")
    p.add_argument("--input", type=Path, help="your tuning JSONL: id, image, prompt, kind")
    p.add_argument("--split", default="tune", help="built-in split to tune on (default: tune)")
    p.add_argument("--attacks", default="TYPO", help="built-in image attacks, comma list")
    p.add_argument("--limit", type=int, default=12, help="at most N harmful and N benign (0: all)")
    p.add_argument("--utility", type=int, default=8, help="yes/no questions (0: skip)")
    p.add_argument("--captions", choices=["self", "given"], default="self")
    p.add_argument("--max-new-tokens", type=int, default=24)
    p.add_argument("--caption-tokens", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
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
    p.add_argument("--out", type=Path, help="default: RUN/rescore-<judge>")
    p.set_defaults(func=cmd_rescore)

    p = sub.add_parser("make-tiny-model", help="build a tiny random offline checkpoint")
    p.add_argument("--family", required=True, **names(FAMILIES, "family"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
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
        "-n", type=int, default=40, help="held-out requests of each kind (40: the measured set)"
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `shiftdc` command; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a bad flag (one line printed)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        args.func(args)
    except ShiftDCError as exc:
        print(f"shiftdc {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"shiftdc {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
