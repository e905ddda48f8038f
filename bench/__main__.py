"""`python -m bench [--quick]`: run the benchmark; `python -m bench serve`: the serving run."""

import sys

if sys.argv[1:2] == ["serve"]:
    from bench.serve import main

    sys.exit(main(sys.argv[2:]))

from bench.run import main  # noqa: E402

sys.exit(main())
