"""Command-line interface: parses flags, calls the library, prints. No logic of its own."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from shiftdc.errors import ShiftDCError


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="Hugging Face hub id or local directory")
    p.add_argument("--dtype", default="auto", help="float32 | bfloat16 | float16 | auto")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if any)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _load(args: argparse.Namespace):
    from transformers.utils import logging as hf_logging

    from shiftdc.models import load_vlm

    hf_logging.disable_progress_bar()
    return load_vlm(args.model, dtype=args.dtype, device=args.device)


def _layers(spec: str | None) -> list[int] | None:
    from shiftdc.direction import parse_layer_range

    return parse_layer_range(spec) if spec else None


def cmd_fit(args: argparse.Namespace) -> None:
    from shiftdc.io import read_samples
    from shiftdc.jobs import fit_job

    safe, unsafe = read_samples(args.safe), read_samples(args.unsafe)
    d = fit_job(
        _load(args),
        safe,
        unsafe,
        args.out,
        layers=_layers(args.layers),
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
    from shiftdc.jobs import generate_job

    samples, layers = read_samples(args.input), _layers(args.layers)
    n = generate_job(
        _load(args),
        samples,
        args.out,
        direction=args.direction,
        mode=args.mode,
        alpha=args.alpha,
        layers=layers,
        max_new_tokens=args.max_new_tokens,
        caption_tokens=args.caption_tokens,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    what = f"ShiftDC ({args.mode})" if args.direction else "plain"
    print(f"wrote {n} {what} responses -> {args.out}")


def cmd_make_tiny(args: argparse.Namespace) -> None:
    from shiftdc.models.tiny import make_tiny_model

    out = make_tiny_model(args.family, args.out, seed=args.seed)
    print(f"tiny random {args.family} checkpoint -> {out} (random weights: mechanics only)")


def cmd_demo(args: argparse.Namespace) -> None:
    from shiftdc.demo import run_demo

    run_demo(args.out, family=args.family, progress=not args.quiet)


def build_parser() -> argparse.ArgumentParser:
    from shiftdc.core import MODES
    from shiftdc.models.tiny import BUILDERS

    ap = argparse.ArgumentParser(
        prog="shiftdc",
        description="Training-free safety calibration of vision-language models (ShiftDC).",
    )
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fit", help="fit a safety direction from safe/unsafe request JSONL")
    _model_args(p)
    p.add_argument("--safe", type=Path, required=True)
    p.add_argument("--unsafe", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="directory for the direction")
    p.add_argument("--layers", help="default calibration layers, A:B (0-based, inclusive)")
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
    p.add_argument("--mode", choices=list(MODES), default="paper")
    p.add_argument("--alpha", type=float, default=1.0)
    p.add_argument(
        "--layers", help="calibration layers A:B (default: the direction's or L//2..L-1)"
    )
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--caption-tokens", type=int, default=128)
    p.add_argument("--overwrite", action="store_true", help="start over instead of resuming")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("make-tiny-model", help="build a tiny random offline checkpoint")
    p.add_argument("--family", required=True, choices=sorted(BUILDERS))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_make_tiny)

    p = sub.add_parser("demo", help="end-to-end demo on a tiny offline model")
    p.add_argument("--out", type=Path, default=Path("demo-out"))
    p.add_argument("--family", default="llava", choices=sorted(BUILDERS))
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `shiftdc` command; returns the exit status."""
    args = build_parser().parse_args(argv)
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
