"""One rule for layer indices (shiftdc.method.layers), shared by fit, generate and analyze."""

from __future__ import annotations

import pytest

from shiftdc.analysis.sets import check_layer, check_layers
from shiftdc.errors import InputError
from shiftdc.method.layers import resolve_layer, resolve_layers


def _naive(spec: str, n: int) -> list[int]:
    """Reference: expand the spec as Python indexes a list of n layers."""
    every = list(range(n))
    picked = []
    for part in spec.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            a, b = every[a], every[b]
            picked += every[a : b + 1]
        else:
            picked.append(every[int(part)])
    return sorted(set(picked))


@pytest.mark.parametrize("spec", ["0:3", "2:2", "-1", "-3:-1", "1,3,3,0", "2:-1"])
def test_specs_resolve_like_python_indexing(spec):
    assert resolve_layers(spec, 6) == _naive(spec, 6)


def test_every_entry_point_uses_the_same_rule():
    n = 6
    for layers in ([5, -1, 2], [-6], [0, 5]):
        expected = resolve_layers(layers, n)
        assert check_layers(layers, n) == expected  # analysis
    assert check_layer(-1, n) == resolve_layer(-1, n) == 5  # analyze --layer


def test_a_huge_range_is_a_one_line_error_not_a_memory_error():
    with pytest.raises(InputError, match="layer 99999999999999 is out of range") as err:
        resolve_layers("0:99999999999999", 32)
    assert len(str(err.value).splitlines()) == 1


@pytest.mark.parametrize("bad", ["4:2", "a:b", "-1:-3", "1:x"])
def test_bad_specs(bad):
    with pytest.raises(InputError, match="bad layer range"):
        resolve_layers(bad, 6)


def test_out_of_range_and_empty():
    with pytest.raises(InputError, match="outside the model"):
        resolve_layers([2, 9], 6)
    with pytest.raises(InputError, match="no layers"):
        resolve_layers([], 6)
    assert resolve_layers(None, 3) == [0, 1, 2]
