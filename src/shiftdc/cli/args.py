"""Argument types, shared flag groups and help texts of the `shiftdc` commands."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

from shiftdc.records.images import DEFAULT_MAX_PIXELS

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


def comma_list(item: Callable[[str], T]) -> Callable[[str], list[T]]:
    """An argparse type: a comma-separated list, each entry checked by `item`."""

    def convert(text: str) -> list[T]:
        values = [item(part.strip()) for part in text.split(",") if part.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        return values

    return convert


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


def model_args(p: argparse.ArgumentParser, required: bool = True) -> None:
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


def shiftdc_args(p: argparse.ArgumentParser) -> None:
    """--mode/--alpha/--layers/--positions of a command that applies ShiftDC (unset: the
    direction's recommendation, else the defaults; `shiftdc.method.settings`)."""
    from shiftdc.method.modes import MODES
    from shiftdc.method.positions import POSITIONS
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


def long_prompt_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--long-prompt",
        choices=["refuse", "truncate"],
        default="refuse",
        help="a request longer than the model's context (with the tokens to generate): "
        "refuse it (default, exit 2) or cut its text to fit; a truncated request's record "
        "says so in 'prompt_truncated'",
    )


def counting_args(p: argparse.ArgumentParser, default: str | None) -> None:
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


class OneLineParser(argparse.ArgumentParser):
    """argparse with the project's rule for bad input: one line, exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def fraction(text: str) -> float:
    from shiftdc.records.failures import valid_fraction

    try:
        return valid_fraction(float(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected a fraction between 0 and 1, got {text!r}"
        ) from exc
