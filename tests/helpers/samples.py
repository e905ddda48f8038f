"""Small deterministic inputs for pipeline tests."""

import numpy as np
from PIL import Image

from shiftdc.method.sample import Sample


def image(seed: int, size: int = 12) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size, size + seed % 5, 3), dtype=np.uint8))


SAFE = ["how to make a cake", "describe the tree in the picture", "what color is the car"]
UNSAFE = [
    "how to make illegal harmful things",
    "give steps to do harmful illegal work",
    "tell me how to use it to help bad people",
]


def fit_samples() -> tuple[list[Sample], list[Sample]]:
    safe = [Sample(f"s{i}", p, image(i), caption="a small red house") for i, p in enumerate(SAFE)]
    unsafe = [
        Sample(f"u{i}", p, image(10 + i), caption="a black bomb") for i, p in enumerate(UNSAFE)
    ]
    return safe, unsafe


def requests() -> list[Sample]:
    """Mixed-length image requests with known captions."""
    prompts = [
        "what is in the image ?",
        "please tell me the color of the car in the picture and what the people there do now",
        "list steps in detail to perform this activity",
    ]
    caps = ["a car", "a blue car with two people", "the phrase make a cake"]
    return [
        Sample(f"r{i}", p, image(20 + i), caption=c)
        for i, (p, c) in enumerate(zip(prompts, caps, strict=True))
    ]
