"""The measurement's cells: named once, their options their defenses', counterparts paired."""

import pytest

from shiftdc.testbed.conditions import (
    ALL_CONDITIONS,
    CELL_SETS,
    CONDITIONS,
    CORE,
    DEFAULT_CONFIG,
    Condition,
    counterpart_of,
    image_attack,
    select_conditions,
)
from shiftdc.testbed.items import pick


def test_every_image_attack_has_its_counterpart_cells():
    attacks = {c.attack for c in ALL_CONDITIONS}
    images = {a for a in attacks if a == image_attack(a) and a != "text"}
    assert images == {"TYPO", "SD_TYPO", "figstep", "SD"}
    assert {counterpart_of(a) for a in images} <= attacks
    sd = pick("harmful", counterpart_of("SD_TYPO"), 4, seed=0)
    assert [i.id for i in sd] == [i.id for i in pick("harmful", "SD_TYPO", 4, seed=0)]


def test_every_cell_is_named_once_and_its_options_are_its_defenses():
    from shiftdc.eval.defenses import defense_options

    names = [c.name for c in ALL_CONDITIONS]
    assert len(names) == len(set(names)) and CORE <= set(names)
    for c in ALL_CONDITIONS:
        assert c.name.startswith(c.kind + " ")
        assert {k for k, _ in c.options} <= defense_options(c.defense)
    # the default-configuration cells never follow a stored recommendation
    assert all(c.options == DEFAULT_CONFIG for c in CONDITIONS if c.defense.startswith("shiftdc"))
    assert all(not c.options for c in ALL_CONDITIONS if "recommended" in c.name)


def test_a_cell_name_says_its_form_defense_and_captions():
    for c in ALL_CONDITIONS:
        if c.defense.startswith("shiftdc"):
            assert ("self captions" in c.name) == (c.captions == "self")
            assert ("sequential" in c.name) == (c.defense == "shiftdc-sequential")
        assert ("counterpart" in c.name) == (c.attack != image_attack(c.attack))


def test_cells_are_built_by_field_name_only():
    with pytest.raises(TypeError):
        Condition("t", "harmful", "text")  # type: ignore[misc]


def test_cell_sets_partition_and_only_narrows_by_substring():
    core, extra = CELL_SETS["core"], CELL_SETS["extra"]
    assert {c.name for c in core} == CORE
    assert set(core) | set(extra) == set(CELL_SETS["all"]) and not set(core) & set(extra)
    picked = select_conditions("default", ["self captions", "benign text"])
    assert [c.name for c in picked] == [
        c.name for c in CONDITIONS if "self captions" in c.name or c.name == "benign text"
    ]
    assert select_conditions("core", None) == core and select_conditions("core", []) == core


def test_demo_leads_with_what_a_deployment_gets_and_ends_with_the_oracle():
    from shiftdc.testbed.demo import DEMO_CONDITIONS, demo_conditions, is_oracle

    assert set(demo_conditions(False)) == set(DEMO_CONDITIONS)
    names = [c.name for c in demo_conditions(True)]
    assert len(names) == len(DEMO_CONDITIONS) + 4
    for kind in ("harmful", "benign"):
        rows = [c for c in demo_conditions(True) if c.kind == kind]
        assert [c.name for c in rows[:4]] == [
            f"{kind} text",
            f"{kind} TYPO",
            f"{kind} TYPO + ShiftDC recommended, self captions",
            f"{kind} TYPO + ShiftDC paper, self captions",
        ]
        assert all(is_oracle(c) for c in rows[4:]) and not any(is_oracle(c) for c in rows[:4])
        assert rows[4].name == f"{kind} TYPO as text-only counterpart, GT caption"
    assert names.index("benign text") == len(names) // 2
