"""One shape for every extension point: a `{name: factory}` mapping and one lookup.

The registries: model families (`models/families.py` FAMILIES), tiny checkpoints
(`models/tiny.py` BUILDERS), benchmarks (`data/benchmarks.py` BENCHMARKS), defenses
(`eval/defenses.py` DEFENSES), judges (`eval/judges/__init__.py` JUDGES) and calibration
modes (`method/modes.py` MODES). Names compare case-insensitively with '_' equal
to '-'; an unknown name raises `UnknownNameError`, which lists the valid ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from shiftdc.errors import InputError

T = TypeVar("T")


class UnknownNameError(InputError):
    """A name that is not in its registry (family, benchmark, defense, judge, mode ...)."""


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def canonical(table: Mapping[str, object], name: str, what: str) -> str:
    """The registered spelling of `name` in `table`; UnknownNameError listing the valid names."""
    if isinstance(name, str):
        if name in table:
            return name
        for registered in table:
            if _key(registered) == _key(name):
                return registered
    raise UnknownNameError(f"unknown {what} {name!r}; valid: {', '.join(table)}")


def lookup(table: Mapping[str, T], name: str, what: str) -> T:
    """The factory registered as `name` in `table` (see `canonical` for the name rule)."""
    return table[canonical(table, name, what)]


def cli_name(table: Mapping[str, object], what: str) -> Callable[[str], str]:
    """An argparse `type=` that spells a name as registered; an unknown one is an argparse
    error naming the valid ones (use with `choices=list(table)` for the help text)."""
    import argparse

    def convert(name: str) -> str:
        try:
            return canonical(table, name, what)
        except UnknownNameError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    return convert
