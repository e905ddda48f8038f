"""`python -m bench [--quick]`: run the benchmark; `python -m bench serve`: the serving run;
`python -m bench serve-replay`: the slot engine's schedule priced at GPU step costs;
`python -m bench soak`: the server's bounded load test."""

import sys

if sys.argv[1:2] == ["serve"]:
    from bench.serve import main

    sys.exit(main(sys.argv[2:]))
if sys.argv[1:2] == ["serve-replay"]:
    from bench.serve_replay import main as replay_main

    sys.exit(replay_main(sys.argv[2:]))
if sys.argv[1:2] == ["soak"]:
    from bench.soak import main as soak_main

    sys.exit(soak_main(sys.argv[2:]))

from bench.run import main  # noqa: E402

sys.exit(main())
