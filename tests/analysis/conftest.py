"""Fixtures for the analysis tests."""

import pytest

from .synthetic import make_planted


@pytest.fixture
def planted():
    """Factory: planted(**kwargs) -> Planted (see synthetic.make_planted)."""
    return make_planted
