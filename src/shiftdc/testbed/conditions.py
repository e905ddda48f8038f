"""The testbed measurement's cells: which requests, in which form, under which defense.

Each cell is one `Condition` with named fields. `CELL_SETS` names the groups that
`shiftdc measure-testbed --cells` runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

COUNTERPART_SUFFIX = " counterpart"


def counterpart_of(attack: str) -> str:
    """The attack name of an image attack's text-only counterpart cells: each item as
    "{query} Image Caption: {ground-truth caption}", no image. What ShiftDC (ground-truth
    captions) calibrates towards, so its refusal rate is the most a paper-mode correction
    could restore."""
    return attack + COUNTERPART_SUFFIX


def image_attack(attack: str) -> str:
    """The image attack behind a cell's attack name ("SD_TYPO counterpart" -> "SD_TYPO")."""
    return attack.removesuffix(COUNTERPART_SUFFIX)


COUNTERPART = counterpart_of("TYPO")


@dataclass(frozen=True, kw_only=True)
class Condition:
    """One cell of the table: which requests, in which form, under which defense."""

    name: str
    kind: str
    """"harmful" or "benign"."""
    attack: str
    """"text", an image attack ("TYPO", "SD_TYPO", ...) or its `counterpart_of`."""
    defense: str = "none"
    captions: str = "given"
    """ShiftDC's captions: "given" (ground truth) or "self" (the model's own)."""
    options: tuple[tuple[str, Any], ...] = ()
    """Extra defense options (e.g. DEFAULT_CONFIG)."""


DEFAULT_CONFIG: tuple[tuple[str, Any], ...] = (("recommended", False),)
"""ShiftDC's built-in configuration, even where the direction stores a recommendation."""

_SHIFTDC = {"paper": "shiftdc", "sequential": "shiftdc-sequential"}
_CAPTIONS = {"given": "GT captions", "self": "self captions"}


def shiftdc_default(kind: str, attack: str, mode: str, captions: str) -> Condition:
    """ShiftDC with its built-in configuration (`mode` "paper" or "sequential")."""
    return Condition(
        name=f"{kind} {attack} + ShiftDC {mode}, {_CAPTIONS[captions]}",
        kind=kind,
        attack=attack,
        defense=_SHIFTDC[mode],
        captions=captions,
        options=DEFAULT_CONFIG,
    )


def shiftdc_recommended(kind: str, attack: str, captions: str) -> Condition:
    """ShiftDC (paper defense) with the direction's stored recommendation."""
    return Condition(
        name=f"{kind} {attack} + ShiftDC recommended, {_CAPTIONS[captions]}",
        kind=kind,
        attack=attack,
        defense="shiftdc",
        captions=captions,
    )


def plain(kind: str, attack: str) -> Condition:
    """No defense: the request as text or as an image."""
    return Condition(name=f"{kind} {attack}", kind=kind, attack=attack)


def counterpart(kind: str, attack: str) -> Condition:
    """No defense, the image request as its text-only counterpart."""
    return Condition(
        name=f"{kind} {attack} as text-only counterpart, GT caption",
        kind=kind,
        attack=counterpart_of(attack),
    )


CORE: frozenset[str] = frozenset(
    f"{kind} {cell}"
    for kind in ("harmful", "benign")
    for cell in (
        "text",
        "TYPO",
        "TYPO as text-only counterpart, GT caption",
        "TYPO + ShiftDC paper, GT captions",
    )
)
"""Cells a retrain is judged on (`--cells core`): text, image, counterpart, paper ShiftDC."""

CONDITIONS: tuple[Condition, ...] = (
    plain("harmful", "text"),
    plain("harmful", "TYPO"),
    counterpart("harmful", "TYPO"),
    shiftdc_default("harmful", "TYPO", "paper", "given"),
    shiftdc_default("harmful", "TYPO", "paper", "self"),
    shiftdc_default("harmful", "TYPO", "sequential", "given"),
    shiftdc_default("harmful", "TYPO", "sequential", "self"),
    plain("benign", "text"),
    plain("benign", "TYPO"),
    counterpart("benign", "TYPO"),
    shiftdc_default("benign", "TYPO", "paper", "given"),
    shiftdc_default("benign", "TYPO", "paper", "self"),
    shiftdc_default("benign", "TYPO", "sequential", "given"),
)
"""The default configuration's cells (the paper's layers rule, alpha 1, last position)."""

RECOMMENDED_CONDITIONS: tuple[Condition, ...] = tuple(
    shiftdc_recommended(kind, "TYPO", captions)
    for kind in ("harmful", "benign")
    for captions in ("given", "self")
)
"""The direction's stored recommendation (`shiftdc tune`) in place of the defaults."""

BASELINE_CONDITIONS: tuple[Condition, ...] = tuple(
    Condition(name=f"{kind} TYPO + {label}", kind=kind, attack="TYPO", defense=defense)
    for kind in ("harmful", "benign")
    for defense, label in (("ecso", "ECSO"), ("adashield", "AdaShield"))
)
"""The other defenses on the same TYPO requests."""

ATTACK_CONDITIONS: tuple[Condition, ...] = tuple(
    c
    for kind in ("harmful", "benign")
    for attack in ("SD_TYPO", "figstep", "SD")
    for c in (
        plain(kind, attack),
        counterpart(kind, attack),
        shiftdc_recommended(kind, attack, "self"),
        shiftdc_recommended(kind, attack, "given"),
        shiftdc_default(kind, attack, "paper", "given"),
        Condition(name=f"{kind} {attack} + ECSO", kind=kind, attack=attack, defense="ecso"),
        Condition(
            name=f"{kind} {attack} + AdaShield", kind=kind, attack=attack, defense="adashield"
        ),
    )
)
"""The other built-in image attacks: as images, as their text-only counterparts (ShiftDC's
target), with the recommended configuration (self-captions, as deployed, then ground-truth
captions, the oracle) and the default one, and with the other defenses."""

ALL_CONDITIONS: tuple[Condition, ...] = (
    tuple(c for c in CONDITIONS if c.name in CORE)
    + RECOMMENDED_CONDITIONS
    + BASELINE_CONDITIONS
    + ATTACK_CONDITIONS
    + tuple(c for c in CONDITIONS if c.name not in CORE)
)
"""Every cell, most telling first (a run stopped early still has the core and recommended)."""

CELL_SETS: dict[str, tuple[Condition, ...]] = {
    "default": CONDITIONS,
    "core": tuple(c for c in CONDITIONS if c.name in CORE),
    "all": ALL_CONDITIONS,
    "extra": tuple(c for c in ALL_CONDITIONS if c.name not in CORE),
}
"""`--cells`: the default configuration's cells, the core ones, all, or all but the core."""


def select_conditions(cells: str, only: list[str] | None = None) -> tuple[Condition, ...]:
    """The cells of one `CELL_SETS` group, narrowed to names containing any `only` substring."""
    conds = CELL_SETS[cells]
    if only:
        conds = tuple(c for c in conds if any(s in c.name for s in only))
    return conds
