"""Screenshots of the playground for the docs, from a running `shiftdc serve --playground`.

    shiftdc serve --playground --playground-compare --api-key KEY &   # the testbed
    python -m tests.serve.playground.take_screenshots --url http://127.0.0.1:8000 \\
        --key KEY --out docs/playground
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tests.serve.playground.browser import (
    ask,
    connect,
    done,
    full_page_screenshot,
    make_driver,
    pick_example,
)

SHOTS = {  # file name -> (built-in example, window width)
    "harmful.png": ("harm-01-00-typo", 1280),
    "benign.png": ("benign-cooking-00-typo", 1280),
}


class _Server:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--key")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--tokens", type=int, default=48)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (example, width) in SHOTS.items():
        d = make_driver(width, 800)
        try:
            connect(d, _Server(args.url), args.key)
            pick_example(d, example)
            ask(d, args.tokens)
            done(d, "guarded", "unguarded")
            full_page_screenshot(d, args.out / name)
            print(args.out / name)
        finally:
            d.quit()


if __name__ == "__main__":
    main()
