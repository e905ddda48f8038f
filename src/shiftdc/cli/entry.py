"""`shiftdc`'s entry point: parse, run one command, turn user errors into one line and a status."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from shiftdc.cli.parser import build_parser
from shiftdc.errors import ShiftDCError
from shiftdc.records.images import max_pixels, set_max_pixels


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
