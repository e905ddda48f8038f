"""Benchmark registry: name -> loader(data_dir, seed, **options) -> list[EvalItem]."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path
from typing import Any, Final, Protocol

from shiftdc.data.builtin import load_builtin
from shiftdc.data.figstep import load_figstep
from shiftdc.data.item import EvalItem
from shiftdc.data.jailbreakv import load_jailbreakv
from shiftdc.data.mm_safetybench import load_mm_safetybench
from shiftdc.data.mme import load_mme
from shiftdc.data.vlguard import load_vlguard
from shiftdc.records.duplicates import unique_by_id
from shiftdc.records.keys import item_key
from shiftdc.registry import lookup


class Loader(Protocol):
    """Reads one benchmark into EvalItems; `data_dir` may be None only for bundled ones."""

    def __call__(
        self, data_dir: Path | None = None, seed: int = 0, **options: Any
    ) -> list[EvalItem]: ...


BENCHMARKS: Final[dict[str, Loader]] = {
    "builtin": load_builtin,
    "mm-safetybench": load_mm_safetybench,
    "figstep": load_figstep,
    "jailbreakv": load_jailbreakv,
    "vlguard": load_vlguard,
    "mme": load_mme,
}
DEFAULT_BENCHMARK: Final = "builtin"


def get_loader(name: str) -> Loader:
    """The loader registered under `name` (case-insensitive, '_' same as '-')."""
    return lookup(BENCHMARKS, name, "benchmark")


def subsample(items: list[EvalItem], limit: int, seed: int = 0) -> list[EvalItem]:
    """At most `limit` items, drawn evenly across (kind, scenario, attack), same seed same pick."""
    if limit >= len(items):
        return list(items)
    groups: dict[tuple[str, str, str], list[EvalItem]] = defaultdict(list)
    for item in items:
        groups[(item.kind, item.scenario, item.attack)].append(item)
    rng = random.Random(f"shiftdc-subsample:{seed}")
    by_kind: dict[str, list[list[EvalItem]]] = defaultdict(list)
    for key, group in sorted(groups.items()):
        by_kind[key[0]].append(rng.sample(group, len(group)))
    # kinds take turns, and within a kind its (scenario, attack) groups take turns
    turn = {kind: 0 for kind in by_kind}
    picked: set[str] = set()
    while len(picked) < limit:
        for kind, queues in by_kind.items():
            live = [q for q in queues if q]
            if live and len(picked) < limit:
                picked.add(live[turn[kind] % len(live)].pop().id)
                turn[kind] += 1
    return [item for item in items if item.id in picked]


def load_benchmark(
    name: str = DEFAULT_BENCHMARK,
    data_dir: Path | str | None = None,
    seed: int = 0,
    limit: int | None = None,
    **options: Any,
) -> list[EvalItem]:
    """Load a registered benchmark, optionally subsampled to `limit` items (in file order)."""
    loader = get_loader(name)
    items = loader(Path(data_dir) if data_dir is not None else None, seed, **options)
    items = unique_by_id(items, item_key, where=f"benchmark {name!r}")
    return subsample(items, limit, seed) if limit is not None else items
