"""Benchmark registry: names, errors for unknown names and missing data, subsampling."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from shiftdc.data import (
    BENCHMARKS,
    DatasetLayoutError,
    UnknownBenchmarkError,
    get_loader,
    load_benchmark,
    subsample,
)


def test_registered_names() -> None:
    expected = {"builtin", "mm-safetybench", "figstep", "jailbreakv", "vlguard", "mme"}
    assert set(BENCHMARKS) == expected
    assert get_loader("MM_SafetyBench") is BENCHMARKS["mm-safetybench"]


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(UnknownBenchmarkError) as info:
        load_benchmark("mmbench")
    for name in BENCHMARKS:
        assert name in str(info.value)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("mm-safetybench", "processed_questions"),
        ("figstep", "safebench.csv"),
        ("jailbreakv", "JailBreakV_28K.csv"),
        ("vlguard", "test.json"),
        ("mme", "MME subtask"),
    ],
)
def test_downloaded_benchmarks_need_a_data_dir(name: str, expected: str, tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match=expected):
        load_benchmark(name)
    with pytest.raises(DatasetLayoutError, match="missing-dir"):
        load_benchmark(name, tmp_path / "missing-dir")


def test_registry_passes_options_and_data_dir(figstep_dir: Path) -> None:
    items = load_benchmark("figstep", str(figstep_dir), attacks=("text",))
    assert len(items) == 3 and items[0].attack == "text"


def test_subsample_is_stratified_and_deterministic() -> None:
    items = load_benchmark("builtin", kinds=("harmful",), attacks=("text", "TYPO"))
    picked = subsample(items, 26, seed=1)
    assert len(picked) == 26 and picked == subsample(items, 26, seed=1)
    assert picked != subsample(items, 26, seed=2)
    assert set(Counter(it.scenario for it in picked).values()) == {2}
    assert load_benchmark("builtin", limit=10, kinds=("benign",)) == subsample(
        load_benchmark("builtin", kinds=("benign",)), 10, seed=0
    )
    assert subsample(items, 10_000) == items


def test_data_package_imports_without_torch() -> None:
    code = (
        "import sys, shiftdc.data; "
        "sys.exit(int('torch' in sys.modules or 'transformers' in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
