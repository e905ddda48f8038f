"""The one rule for decoder-layer indices, used by fit, generate and analyze.

A layer is an index in 0..L-1; a negative one counts from the end, as in Python (-1 is
the last layer). A spec is an int, a list of ints, 'A:B' (inclusive range) or 'A,B,C';
it resolves to sorted unique indices. Bounds are checked before a range is expanded.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from shiftdc.errors import InputError

LayerSpec = str | int | Iterable[int]


def _bad_spec(spec: str) -> InputError:
    return InputError(
        f"bad layer range {spec!r}; use A:B (0-based, inclusive) or a list like 10,11,12"
    )


def parse_spec(spec: str) -> list[tuple[int, int]]:
    """'A:B' or 'A,B,C' -> inclusive (first, last) pairs, not expanded (indices as written)."""
    try:
        if ":" in spec:
            a, b = spec.split(":", 1)
            lo, hi = int(a), int(b)
            if hi < lo and (lo < 0) == (hi < 0):
                raise ValueError
            return [(lo, hi)]
        return [(int(x), int(x)) for x in spec.split(",") if x.strip()]
    except ValueError as exc:
        raise _bad_spec(spec) from exc


def resolve_layer(layer: int, num_layers: int) -> int:
    """`layer` as an index in [0, num_layers); InputError naming the valid range."""
    if isinstance(layer, bool) or not isinstance(layer, int | np.integer):
        raise TypeError(f"layer must be an int; got {layer!r}")
    if not -num_layers <= layer < num_layers:
        raise InputError(
            f"layer {layer} is out of range, outside the model: it has {num_layers} decoder "
            f"layers, so use 0..{num_layers - 1} (or -{num_layers}..-1)"
        )
    return int(layer) % num_layers


def resolve_layers(spec: LayerSpec | None, num_layers: int) -> list[int]:
    """Sorted unique layer indices in [0, num_layers) from a spec (None: every layer)."""
    if spec is None:
        return list(range(num_layers))
    if isinstance(spec, str):
        pairs = parse_spec(spec)
    elif isinstance(spec, int | np.integer) and not isinstance(spec, bool):
        pairs = [(int(spec), int(spec))]
    else:
        pairs = [(i, i) for i in spec]
    out: set[int] = set()
    for lo, hi in pairs:
        first, last = resolve_layer(lo, num_layers), resolve_layer(hi, num_layers)
        if last < first:
            raise _bad_spec(str(spec))
        out.update(range(first, last + 1))
    if not out:
        raise InputError("no layers given: name at least one layer")
    return sorted(out)
