"""Exceptions raised by the data layer, each with a message a user can act on."""

from __future__ import annotations

from pathlib import Path

from shiftdc.errors import ShiftDCError
from shiftdc.registry import UnknownNameError


class DataError(ShiftDCError):
    """Base class for every problem with benchmark data."""


class DatasetLayoutError(DataError, FileNotFoundError):
    """A benchmark directory lacks a file or folder that its upstream layout has."""

    def __init__(
        self, benchmark: str, expected: Path | str, hint: str = "", headline: str | None = None
    ) -> None:
        self.benchmark = benchmark
        self.expected = Path(expected)
        self.hint = hint
        self.headline = headline
        message = headline or f"{benchmark}: expected {self.expected} but it does not exist."
        if hint:
            message = f"{message} {hint}"
        super().__init__(message)

    def __str__(self) -> str:
        """The full message (OSError would otherwise format its own)."""
        return str(self.args[0])

    def __reduce__(self) -> tuple:
        """Pickle by constructor arguments (for worker processes)."""
        return (type(self), (self.benchmark, self.expected, self.hint, self.headline))


class DatasetFormatError(DataError, ValueError):
    """A benchmark file exists but its content is not in the upstream format."""


class ImageLoadError(DataError):
    """An item's image is missing, corrupt or in an unsupported format."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"cannot load image {source}: {reason}")

    def __reduce__(self) -> tuple:
        """Pickle by constructor arguments (for worker processes)."""
        return (type(self), (self.source, self.reason))


#: an unknown benchmark name raises the error every registry raises (kept under this name)
UnknownBenchmarkError = UnknownNameError
