"""Benchmark data: upstream-layout loaders and the built-in offline suite.

Every loader returns `EvalItem`s whose images load lazily (`item.load_image()`), so one
bad file fails one item with `ImageLoadError`, not the whole run.

Modules:
  benchmarks.py        BENCHMARKS: name -> loader(data_dir, seed, **options)
  builtin.py           the built-in offline suite, rendered locally into each attack type
  builtin_requests.py  the bundled harmful and benign requests and their fixed split
  disjoint.py          checks that two item lists share no request text
  figstep.py           FigStep (SafeBench) in its upstream layout
  item.py              EvalItem: one benchmark request, its image loaded lazily
  jailbreakv.py        JailBreakV-28K in its upstream layout
  layout.py            checks of a benchmark directory against its upstream layout
  load_errors.py       the data layer's exceptions
  mm_safetybench.py    MM-SafetyBench in its upstream layout
  mme.py               MME in its upstream layouts (utility yes/no questions)
  options.py           per-benchmark loader options, checked before anything loads
  render.py            deterministic PIL drawings for the built-in suite
  scenarios.py         names and fixed prompts of the MM-SafetyBench-style attacks
  utility.py           benign yes/no questions about generated shape images
  vlguard.py           the VLGuard test set in its upstream layout
"""

from shiftdc.data.benchmarks import BENCHMARKS, get_loader, load_benchmark, subsample
from shiftdc.data.builtin import (
    BUILTIN_ATTACKS,
    DIRECTION_ATTACKS,
    builtin_items,
    direction_set,
    render_attack_image,
)
from shiftdc.data.builtin_requests import SPLITS, BuiltinRequest, builtin_requests
from shiftdc.data.disjoint import assert_disjoint, shared_requests
from shiftdc.data.item import KINDS, EvalItem, open_image
from shiftdc.data.load_errors import (
    DataError,
    DatasetFormatError,
    DatasetLayoutError,
    ImageLoadError,
    UnknownBenchmarkError,
)
from shiftdc.data.mme import SUBTASK_GROUPS as MME_SUBTASK_GROUPS
from shiftdc.data.scenarios import (
    ATTACK_PROMPTS,
    FIGSTEP,
    IMAGE_ATTACKS,
    MM_SAFETYBENCH_SCENARIOS,
    SD,
    SD_TYPO,
    TEXT,
    TYPO,
)
from shiftdc.data.utility import utility_items

__all__ = [
    "ATTACK_PROMPTS",
    "BENCHMARKS",
    "BUILTIN_ATTACKS",
    "DIRECTION_ATTACKS",
    "FIGSTEP",
    "IMAGE_ATTACKS",
    "KINDS",
    "MME_SUBTASK_GROUPS",
    "MM_SAFETYBENCH_SCENARIOS",
    "SD",
    "SD_TYPO",
    "SPLITS",
    "TEXT",
    "TYPO",
    "BuiltinRequest",
    "DataError",
    "DatasetFormatError",
    "DatasetLayoutError",
    "EvalItem",
    "ImageLoadError",
    "UnknownBenchmarkError",
    "assert_disjoint",
    "builtin_items",
    "builtin_requests",
    "direction_set",
    "get_loader",
    "load_benchmark",
    "open_image",
    "render_attack_image",
    "shared_requests",
    "subsample",
    "utility_items",
]
