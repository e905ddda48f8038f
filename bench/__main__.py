"""`python -m bench [--quick]`: run the benchmark."""

import sys

from bench.run import main

sys.exit(main())
