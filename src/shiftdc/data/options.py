"""Per-benchmark loader options (subset, scenarios, formats) checked before anything loads."""

from __future__ import annotations

import inspect
from typing import Any

from shiftdc.errors import InputError

OPTION_FLAGS: dict[str, str] = {
    "subset": "--subset",
    "scenarios": "--scenarios",
    "formats": "--formats",
    "subtasks": "--subtasks",
}
"""Loader keyword -> the CLI flag that sets it (for messages)."""


def check_options(benchmark: str, options: dict[str, Any]) -> None:
    """Raise InputError naming the flag when `benchmark`'s loader does not take an option."""
    from shiftdc.data.benchmarks import get_loader

    params = inspect.signature(get_loader(benchmark)).parameters
    accepted = [k for k, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    for key in options:
        if key not in accepted:
            flag = OPTION_FLAGS.get(key, key)
            takes = [OPTION_FLAGS[k] for k in accepted if k in OPTION_FLAGS]
            raise InputError(
                f"{flag} does not apply to benchmark {benchmark!r}"
                + (f" (it takes {', '.join(takes)})" if takes else " (it takes no options)")
            )
