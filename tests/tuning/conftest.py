"""Fixtures of the tuning tests: the tiny LLaVA and a direction fitted on it (the pipeline
tests' own)."""

from tests.pipeline.conftest import direction, vlm

__all__ = ["direction", "vlm"]
