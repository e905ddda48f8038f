"""EvalItem: one benchmark request, with its image loaded lazily."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from PIL import Image

from shiftdc.data.load_errors import ImageLoadError
from shiftdc.method.sample import Sample
from shiftdc.records.images import ImageProblem, open_rgb, to_rgb

Kind = Literal["harmful", "benign", "utility"]
KINDS: Final[tuple[str, ...]] = ("harmful", "benign", "utility")

ImageSource = Path | Callable[[], Image.Image]
"""A file on disk, or a zero-argument function that renders the image."""


def open_image(path: Path) -> Image.Image:
    """Open an image file as RGB (`records.images`), or raise ImageLoadError naming it."""
    try:
        return open_rgb(path)
    except ImageProblem as exc:
        raise ImageLoadError(str(path), str(exc)) from exc


@dataclass(frozen=True)
class EvalItem:
    """One evaluation request: prompt text, optional lazy image, and its labels."""

    id: str
    prompt: str
    image: ImageSource | None
    scenario: str
    attack: str
    kind: Kind
    benchmark: str
    answer: str | None = None
    caption: str | None = None
    request: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check the labels that downstream scoring relies on."""
        if self.kind not in KINDS:
            raise ValueError(f"EvalItem {self.id}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "utility" and self.answer is None:
            raise ValueError(f"EvalItem {self.id}: utility items need an answer")
        if isinstance(self.image, str):
            object.__setattr__(self, "image", Path(self.image))

    @property
    def has_image(self) -> bool:
        """Whether the item comes with an image (False for text-only items)."""
        return self.image is not None

    @property
    def image_source(self) -> str | None:
        """A printable name for the image: its path, or '<generated>' for rendered ones."""
        if self.image is None:
            return None
        return str(self.image) if isinstance(self.image, Path) else "<generated>"

    def load_image(self) -> Image.Image | None:
        """Load (or render) the image as RGB; None for text-only; ImageLoadError on failure."""
        if self.image is None:
            return None
        if isinstance(self.image, Path):
            return open_image(self.image)
        try:
            img = self.image()
        except ImageLoadError:
            raise
        except Exception as exc:  # a renderer failing is reported the same way as a bad file
            raise ImageLoadError(f"<generated for {self.id}>", repr(exc)) from exc
        try:
            return img if img.mode == "RGB" else to_rgb(img)
        except ImageProblem as exc:
            raise ImageLoadError(f"<generated for {self.id}>", str(exc)) from exc

    def labels(self) -> dict[str, Any]:
        """The item's labels as a flat JSON-friendly dict (for run records and Sample.meta)."""
        return {
            "benchmark": self.benchmark,
            "scenario": self.scenario,
            "attack": self.attack,
            "kind": self.kind,
            "answer": self.answer,
            "request": self.request,
            "image_source": self.image_source,
            **dict(self.meta),
        }

    def to_sample(self) -> Sample:
        """Convert to the pipeline's Sample, loading the image now (may raise ImageLoadError)."""
        return Sample(
            id=self.id,
            prompt=self.prompt,
            image=self.load_image(),
            caption=self.caption,
            meta=self.labels(),
        )
