"""The unit of work: one image + text request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from shiftdc.errors import InputError


@dataclass
class Sample:
    """An image + text request. `caption` (optional) is a known description of the image."""

    id: str
    prompt: str
    image: Image.Image | None = None
    caption: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def text_only_prompt(self, caption: str | None = None) -> str:
        """The text-only counterpart t_tt: "{query} Image Caption: {caption}"."""
        cap = caption if caption is not None else self.caption
        if self.image is None or cap is None:
            return self.prompt
        return f"{self.prompt} Image Caption: {cap}"


def captions_per_sample(
    samples: Sequence[Sample], captions: Sequence[str | None] | None
) -> list[str | None]:
    """`captions` as a list with one entry per sample (all None when not given)."""
    given = list(captions) if captions is not None else [None] * len(samples)
    if len(given) != len(samples):
        raise InputError(f"{len(given)} captions for {len(samples)} samples")
    return given
