"""The maps of the package stay complete: every module is listed where a reader looks for it.

Each subpackage's `__init__` docstring lists its modules (and subpackages) one per line
under `Modules:`; CONTRIBUTING's file map and README's Layout name every subpackage and
every root module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "shiftdc"
ROOT_MODULES = {"__init__.py", "__main__.py", "errors.py", "registry.py"}
ENTRY = re.compile(r"^  (\w+\.py|\w+/)(?:\s|$)")


def _packages() -> list[Path]:
    return sorted(p.parent for p in SRC.rglob("__init__.py") if p.parent != SRC)


def _contents(pkg: Path) -> set[str]:
    mods = {p.name for p in pkg.glob("*.py") if p.name not in {"__init__.py", "__main__.py"}}
    subs = {f"{p.name}/" for p in pkg.iterdir() if (p / "__init__.py").is_file()}
    return mods | subs


def listed_in_docstring(pkg: Path) -> set[str]:
    """The module names under `Modules:` in the package's `__init__` docstring."""
    doc = ast.get_docstring(ast.parse((pkg / "__init__.py").read_text()), clean=False) or ""
    _, found, block = doc.partition("\nModules:\n")
    assert found, f"{pkg.relative_to(SRC)}/__init__.py has no 'Modules:' list"
    return {m.group(1) for line in block.splitlines() if (m := ENTRY.match(line))}


def _map(text: str, title: str) -> str:
    """The first fenced block after a heading `title`."""
    after = text[text.index(title) :]
    return after.split("```\n", 2)[1]


def test_listing_parser_reads_entries_and_skips_prose():
    lines = "Modules:\n  a.py  one\n  sub/  two\n  not an entry\n    b.py  deeper\n"
    assert {m.group(1) for line in lines.splitlines() if (m := ENTRY.match(line))} == {
        "a.py",
        "sub/",
    }


@pytest.mark.parametrize("pkg", _packages(), ids=lambda p: str(p.relative_to(SRC)))
def test_every_module_is_listed_in_its_package_docstring(pkg):
    listed, present = listed_in_docstring(pkg), _contents(pkg)
    assert not present - listed, f"missing from {pkg.name}/__init__.py: {present - listed}"
    assert not listed - present, f"listed but absent in {pkg.name}/: {listed - present}"


def test_top_level_holds_only_the_root_modules():
    assert {p.name for p in SRC.glob("*.py")} == ROOT_MODULES


def test_contributing_file_map_names_every_subpackage_and_root_module():
    block = _map((ROOT / "CONTRIBUTING.md").read_text(), "## File map")
    named = set(re.findall(r"^  (\w+\.py|\w+/)", block, re.M))
    top = {f"{p.name}/" for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert top | ROOT_MODULES <= named, top | ROOT_MODULES - named
    assert named <= top | ROOT_MODULES, named - top - ROOT_MODULES


def test_readme_layout_names_every_subpackage_and_root_module():
    block = _map((ROOT / "README.md").read_text(), "## Layout")
    named = set(re.findall(r"\b(\w+\.py|\w+/)", block))
    top = {f"{p.name}/" for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert top | ROOT_MODULES <= named, top | ROOT_MODULES - named


TESTS = ROOT / "tests"
TEST_ONLY_FOLDERS = {"helpers", "bad_inputs", "golden"}
"""Folders of tests/ that name no package: shared helpers, bad input through the CLI, and the
golden check's expected outputs."""


def test_test_folders_mirror_the_packages():
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert folders - TEST_ONLY_FOLDERS <= packages, folders - TEST_ONLY_FOLDERS - packages


def test_no_test_file_imports_another():
    pattern = re.compile(r"^\s*(?:from|import)\s+(?:tests\.)?(?:\w+\.)*test_\w+", re.M)
    offenders = [
        str(p.relative_to(TESTS))
        for p in TESTS.rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert not offenders, f"import shared helpers from tests/helpers instead: {offenders}"
