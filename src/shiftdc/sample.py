"""The unit of work: one image + text request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image


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
