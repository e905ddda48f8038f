"""Defenses behind one interface: each turns a batch of samples into responses.

Add a defense: subclass `Defense` (set `name`, implement `respond`; take your own options
as keyword arguments of `__init__`) and add one line to DEFENSES. `get_defense(name, vlm,
**options)` passes each defense the options it declares, as `get_judge` does for judges.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from shiftdc.errors import InputError
from shiftdc.eval.parsing import parse_yes_no
from shiftdc.eval.prompts import (
    ADASHIELD_STATIC_PROMPT,
    ECSO_CAPTION_PROMPT,
    ECSO_HARM_CHECK_PROMPT,
    SAFETY_REMINDER_SYSTEM_PROMPT,
    adashield_query,
    ecso_safe_answer_prompt,
)
from shiftdc.method.captions import Captioner
from shiftdc.method.direction import (
    SafetyDirection,
    load_or_fit_direction,
    shipped_direction_of,
)
from shiftdc.method.layers import resolve_layers
from shiftdc.method.pipeline import ShiftDC
from shiftdc.method.sample import Sample
from shiftdc.models.generation import generate_plain, generate_text
from shiftdc.models.loading import VLM
from shiftdc.registry import lookup


class Defense(ABC):
    """Turns samples into response records ({"response": ..., plus defense-specific fields})."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def __init__(self, vlm: VLM, max_new_tokens: int = 128, batch_size: int = 8) -> None:
        self.vlm = vlm
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size

    def setup(self, run_dir: Path, evaluated: Sequence[Any], seed: int = 0) -> list[str]:
        """Prepare before the first batch (e.g. fit a direction); return report notes."""
        return []

    def settings(self) -> dict[str, Any]:
        """Settings that define this defense's outputs (checked when a run resumes)."""
        return {}

    @abstractmethod
    def respond(self, samples: list[Sample]) -> list[dict[str, Any]]:
        """One record per sample, in order, each with at least "response"."""


class NoDefense(Defense):
    name = "none"
    description = "direct generation"

    def respond(self, samples: list[Sample]) -> list[dict[str, Any]]:
        texts = generate_plain(self.vlm, samples, self.max_new_tokens, batch_size=len(samples))
        return [{"response": t} for t in texts]


class ReminderDefense(Defense):
    name = "reminder"
    description = "a safety reminder as the system prompt"

    def respond(self, samples: list[Sample]) -> list[dict[str, Any]]:
        texts = generate_plain(
            self.vlm,
            samples,
            self.max_new_tokens,
            system=SAFETY_REMINDER_SYSTEM_PROMPT,
            batch_size=len(samples),
        )
        return [{"response": t} for t in texts]


class AdaShieldDefense(Defense):
    name = "adashield"
    description = "AdaShield-S: a static defensive prompt prepended to the query"

    def respond(self, samples: list[Sample]) -> list[dict[str, Any]]:
        shielded = [replace(s, prompt=adashield_query(s.prompt)) for s in samples]
        texts = generate_plain(self.vlm, shielded, self.max_new_tokens, batch_size=len(samples))
        return [{"response": t} for t in texts]

    def settings(self) -> dict[str, Any]:
        return {"prompt": ADASHIELD_STATIC_PROMPT}


class ECSODefense(Defense):
    """Answer; if the model judges its own answer harmful, caption and answer from the caption."""

    name = "ecso"
    description = "ECSO: self-check, then caption and answer from text in a harmless way"

    def __init__(self, vlm: VLM, caption_tokens: int = 128, **run: Any) -> None:
        super().__init__(vlm, **run)
        self.caption_tokens = caption_tokens

    def respond(self, samples: list[Sample]) -> list[dict[str, Any]]:
        vlm, n = self.vlm, self.max_new_tokens
        first = generate_plain(vlm, samples, n, batch_size=len(samples))
        checks = [
            replace(s, prompt=f"Request: {s.prompt}\nAnswer: {a}\n{ECSO_HARM_CHECK_PROMPT}")
            for s, a in zip(samples, first, strict=True)
        ]
        verdicts = generate_plain(vlm, checks, 4, batch_size=len(samples))
        out = [
            {"response": a, "ecso_flagged": False, "ecso_check": v}
            for a, v in zip(first, verdicts, strict=True)
        ]
        flagged = [
            i
            for i, v in enumerate(verdicts)
            if parse_yes_no(v) == "yes" and samples[i].image is not None
        ]
        if flagged:
            captioner = Captioner(
                vlm,
                max_new_tokens=self.caption_tokens,
                prompt=ECSO_CAPTION_PROMPT,
                batch_size=len(flagged),
                progress=False,
            )
            caps = captioner.caption([samples[i] for i in flagged])
            prompts = [
                ecso_safe_answer_prompt(samples[i].prompt, c)
                for i, c in zip(flagged, caps, strict=True)
            ]
            safe = generate_text(vlm, prompts, n)
            for i, c, t in zip(flagged, caps, safe, strict=True):
                out[i].update(response=t, ecso_flagged=True, caption=c, first_response=first[i])
        return out

    def settings(self) -> dict[str, Any]:
        return {"caption_tokens": self.caption_tokens}


class ShiftDCDefense(Defense):
    """ShiftDC with a given direction, or one fitted on the built-in direction set."""

    name = "shiftdc"
    #: None: the direction's recommended configuration (`shiftdc tune`), else paper mode
    mode: ClassVar[str | None] = None
    description = "ShiftDC (the direction's recommended configuration, else paper mode)"

    def __init__(
        self,
        vlm: VLM,
        caption_tokens: int = 128,
        captions: str = "self",
        direction: Path | None = None,
        mode: str | None = None,
        alpha: float | None = None,
        layers: str | None = None,
        positions: str | None = None,
        recommended: bool = True,
        **run: Any,
    ) -> None:
        """Unset mode/alpha/layers/positions: the direction's recommendation (unless
        `recommended` is False), else the built-in defaults."""
        super().__init__(vlm, **run)
        self.caption_tokens = caption_tokens
        self.captions = captions
        self.given_direction = Path(direction) if direction is not None else None
        # without --direction: the one that ships with the model (the testbed's), if any
        self.direction_path = self.given_direction or shipped_direction_of(vlm)
        fixed = type(self).mode
        if mode is not None and fixed is not None and mode != fixed:
            raise InputError(
                f"defense {self.name!r} runs {fixed} mode; --mode {mode} contradicts it"
            )
        self.mode = mode or fixed
        self.explicit = {
            k: v
            for k, v in dict(mode=mode, alpha=alpha, layers=layers, positions=positions).items()
            if v is not None
        }
        self.use_recommended = recommended

    def setup(self, run_dir: Path, evaluated: Sequence[Any], seed: int = 0) -> list[str]:
        notes = []
        if self.given_direction is not None:
            direction = SafetyDirection.load(self.given_direction, self.vlm)
            notes.append(
                f"Safety direction loaded from {self.given_direction} "
                f"({direction.meta.get('n_safe')} safe + "
                f"{direction.meta.get('n_unsafe')} unsafe requests)."
            )
        else:
            direction, note = load_or_fit_direction(
                self.vlm, None, evaluated, run_dir, seed, self.batch_size
            )
            notes.append(note if note.startswith("Safety") else f"Safety direction: {note}.")
        if not self.use_recommended and direction.recommended is not None:
            direction = direction.without_recommendation()
            notes.append("The direction's recommendation is ignored (built-in defaults).")
        self.sdc = ShiftDC(
            self.vlm,
            direction,
            mode=self.mode,
            alpha=self.explicit.get("alpha"),
            layers=(
                resolve_layers(self.explicit["layers"], self.vlm.num_layers)
                if "layers" in self.explicit
                else None
            ),
            positions=self.explicit.get("positions"),
            batch_size=self.batch_size,
            progress=False,
            captioner=Captioner(
                self.vlm,
                max_new_tokens=self.caption_tokens,
                batch_size=self.batch_size,
                progress=False,
            ),
        )
        notes.append(
            f"ShiftDC {self.sdc.mode} mode, layers {self.sdc.layers[0]}..{self.sdc.layers[-1]}"
            f", alpha {self.sdc.alpha}, captions: {self.captions}"
            + (f" ({self.caption_tokens} tokens)" if self.captions == "self" else "")
            + _recommended_note(self.sdc)
        )
        print(f"ShiftDC: {self.sdc.settings.describe()}")
        return notes

    def settings(self) -> dict[str, Any]:
        rec = recommended_in(self.direction_path) if self.use_recommended else None
        out = {
            "mode": self.mode or (rec or {}).get("mode", "paper"),
            "captions": self.captions,
            "caption_tokens": self.caption_tokens,
            "direction": str(self.direction_path) if self.direction_path else "builtin",
            **self.explicit,
        }
        if not self.use_recommended:
            out["recommendation_ignored"] = True
        return {**out, "recommended": rec} if rec else out

    def respond(self, samples: list[Sample]) -> list[dict[str, Any]]:
        if self.captions == "self":
            samples = [replace(s, caption=None) for s in samples]
        results = self.sdc.generate(samples, self.max_new_tokens)
        return [{k: v for k, v in r.to_record().items() if k != "id"} for r in results]


class SequentialShiftDCDefense(ShiftDCDefense):
    name = "shiftdc-sequential"
    mode = "sequential"
    description = "ShiftDC (sequential mode)"


def recommended_in(directory: Path | None) -> dict[str, Any] | None:
    """The recommendation stored in a saved direction's JSON (None: none, or no direction)."""
    if directory is None:
        return None
    try:
        return SafetyDirection.load(directory).recommended
    except InputError:
        return None  # reported when the defense loads it


def _recommended_note(sdc: ShiftDC) -> str:
    used = [k for k, v in sdc.settings.sources.items() if v == "recommended"]
    return f" ({', '.join(used)} from the direction's recommendation)" if used else ""


DEFENSES: dict[str, type[Defense]] = {
    d.name: d
    for d in (
        NoDefense,
        ShiftDCDefense,
        SequentialShiftDCDefense,
        ECSODefense,
        AdaShieldDefense,
        ReminderDefense,
    )
}


def defense_options(name: str) -> frozenset[str]:
    """The options (keyword arguments beyond vlm and the run's) the defense `name` takes."""
    init = inspect.signature(lookup(DEFENSES, name, "defense").__init__).parameters
    run = inspect.signature(Defense.__init__).parameters
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return frozenset(k for k, p in init.items() if p.kind in kinds and k not in run)


def options_for(name: str, **candidates: Any) -> dict[str, Any]:
    """The subset of `candidates` that the defense `name` takes (callers with shared flags)."""
    takes = defense_options(name)
    return {k: v for k, v in candidates.items() if k in takes}


def get_defense(
    name: str, vlm: VLM, max_new_tokens: int = 128, batch_size: int = 8, **options: Any
) -> Defense:
    """Build the defense registered as `name` with its own `options` (see `defense_options`)."""
    unknown = sorted(set(options) - defense_options(name))
    if unknown:
        takes = ", ".join(sorted(defense_options(name))) or "none"
        raise InputError(f"defense {name!r} takes no option {unknown[0]!r} (its options: {takes})")
    factory = lookup(DEFENSES, name, "defense")
    return factory(vlm, max_new_tokens=max_new_tokens, batch_size=batch_size, **options)
