"""`python -m shiftdc`: the CLI, also as `torchrun -m shiftdc` / `accelerate launch -m shiftdc`.

Under a launcher only rank 0 prints results; the other ranks' stdout is dropped (their
logs, prefixed with the rank, go to stderr).
"""

import os
import sys

from shiftdc import distributed
from shiftdc.cli import main

if not distributed.is_main():
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
try:
    status = main()
finally:
    distributed.finish()
sys.exit(status)
