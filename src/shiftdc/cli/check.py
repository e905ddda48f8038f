"""The `shiftdc check` command: its flags, its report, its exit status."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from shiftdc.errors import ShiftDCError

if TYPE_CHECKING:
    from shiftdc.models.loading import VLM


class CheckFailed(ShiftDCError):
    """Some check found the fast path and the naive reference different (exit status 1)."""

    exit_status = 1


def add_parser(sub: argparse._SubParsersAction, func: Callable[[argparse.Namespace], None]) -> None:
    """Register `check` on the CLI's subparsers."""
    from shiftdc.cli.args import model_args, nonnegative_float, positive_int

    p = sub.add_parser(
        "check",
        help="verify ShiftDC on a model: fast path vs a naive full-pass reference",
        description="On built-in image requests, run ShiftDC's fast path (self-captions, "
        "batching, KV-cache reuse) and a naive whole-prompt reference, in paper and "
        "sequential mode, at batch 1 and 2. Prints one verdict per check (exact, within "
        "tolerance, different) and exits with status 1 when any differs.",
    )
    model_args(p, required=False)
    p.add_argument("--direction", help="a saved direction (default: fit a small built-in one)")
    p.add_argument("--layers", help="calibrated layers, e.g. 10:31 (default: the direction's)")
    p.add_argument("--alpha", type=nonnegative_float, default=1.0, help="correction strength")
    p.add_argument("--max-new-tokens", type=positive_int, default=8, help="answer tokens")
    p.add_argument("--caption-tokens", type=positive_int, default=8, help="caption tokens")
    p.add_argument("--samples", type=int, choices=(2, 3), default=3, help="built-in requests")
    p.set_defaults(func=func)


def run(args: argparse.Namespace, vlm: VLM) -> None:
    """Run every check on `vlm`, print one line per check, raise CheckFailed if any differs."""
    from shiftdc.method.check import builtin_samples, run_check
    from shiftdc.method.direction import SafetyDirection
    from shiftdc.method.layers import resolve_layers

    direction = SafetyDirection.load(args.direction, vlm) if args.direction else None
    layers = resolve_layers(args.layers, vlm.num_layers) if args.layers else None
    print(f"checking {vlm.name} ({vlm.family}, {vlm.num_layers} layers, {vlm.dtype})")
    try:
        outcomes = run_check(
            vlm,
            direction,
            builtin_samples(args.samples),
            alpha=args.alpha,
            layers=layers,
            caption_tokens=args.caption_tokens,
            max_new_tokens=args.max_new_tokens,
        )
    except ShiftDCError:
        raise
    except Exception as exc:  # a pass that fails on this model is a failed check, said once
        raise CheckFailed(f"ShiftDC cannot run on {vlm.name}: {type(exc).__name__}: {exc}") from exc
    for o in outcomes:
        print(o.line())
    bad = [o for o in outcomes if o.verdict == "different"]
    if bad:
        raise CheckFailed(f"{len(bad)} of {len(outcomes)} checks differ from the reference")
    print(f"all {len(outcomes)} checks agree with the naive reference")
