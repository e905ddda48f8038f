"""`python -m shiftdc.cli`: the command line, as the `shiftdc` console script."""

import sys

from shiftdc.cli import main

sys.exit(main())
