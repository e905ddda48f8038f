"""`python -m shiftdc`: the CLI, also as `torchrun -m shiftdc` / `accelerate launch -m shiftdc`.

Under a launcher only rank 0 prints results; the other ranks' stdout is dropped (their
logs, prefixed with the rank, go to stderr). Commands that do not split their work over
ranks are refused there rather than run N times into the same files.
"""

import os
import sys

from shiftdc.cli import main
from shiftdc.parallel import distributed

#: commands that share their work out when launched with several processes
PARALLEL = ("evaluate", "fit", "rescore", "caption", "generate")


def _run() -> int:
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    if distributed.active() and command not in PARALLEL:
        if distributed.is_main():
            print(
                f"shiftdc {command}: error: does not run data-parallel; launch one process "
                f"(data-parallel commands: {', '.join(PARALLEL)})",
                file=sys.stderr,
            )
        return 2
    if not distributed.is_main():
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    try:
        return main()
    finally:
        distributed.finish()


sys.exit(_run())
