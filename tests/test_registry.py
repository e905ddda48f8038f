"""One registry shape: every name goes through shiftdc.registry, the CLI draws from it."""

from __future__ import annotations

import pytest

from shiftdc.cli import main
from shiftdc.cli.parser import build_parser
from shiftdc.data import BENCHMARKS, UnknownBenchmarkError, get_loader
from shiftdc.errors import InputError
from shiftdc.eval.defenses import DEFENSES, Defense, defense_options, get_defense
from shiftdc.eval.judges import JUDGES, get_judge
from shiftdc.method.modes import MODES
from shiftdc.models.families import FAMILIES, adapter_for_family, families
from shiftdc.models.tiny import BUILDERS, make_tiny_model
from shiftdc.registry import UnknownNameError, canonical, lookup

TABLES = {
    "family": FAMILIES,
    "tiny builder": BUILDERS,
    "benchmark": BENCHMARKS,
    "defense": DEFENSES,
    "judge": JUDGES,
    "mode": MODES,
}


@pytest.mark.parametrize("what", sorted(TABLES))
def test_every_registry_normalises_names_and_lists_valid_ones(what):
    table = TABLES[what]
    for name in table:
        spelled = name.upper().replace("-", "_").replace("_", "-")
        assert canonical(table, spelled, what) == name
        assert lookup(table, f" {name} ", what) is table[name]
    with pytest.raises(UnknownNameError) as err:
        lookup(table, "nope", what)
    assert isinstance(err.value, InputError)
    assert all(name in str(err.value) for name in table)


def test_the_library_lookups_raise_the_one_error():
    assert UnknownBenchmarkError is UnknownNameError
    assert get_loader("mm_safetybench") is BENCHMARKS["mm-safetybench"]
    for call in (
        lambda: get_loader("nope"),
        lambda: get_judge("nope"),
        lambda: get_defense("nope", None),
        lambda: adapter_for_family("nope"),
        lambda: make_tiny_model("nope", "unused"),
    ):
        with pytest.raises(UnknownNameError):
            call()


def test_tiny_builders_are_the_families():
    assert list(BUILDERS) == families()


def _choices(argv_prefix, flag):
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[argv_prefix]
    return next(a.choices for a in sub._actions if flag in a.option_strings)


@pytest.mark.parametrize(
    ("command", "flag", "table"),
    [
        ("generate", "--mode", MODES),
        ("analyze", "--mode", MODES),
        ("evaluate", "--benchmark", BENCHMARKS),
        ("analyze", "--benchmark", BENCHMARKS),
        ("evaluate", "--defense", DEFENSES),
        ("evaluate", "--judge", JUDGES),
        ("rescore", "--judge", JUDGES),
        ("make-tiny-model", "--family", FAMILIES),
        ("demo", "--family", FAMILIES),
    ],
)
def test_cli_choices_are_the_registries(command, flag, table):
    assert list(_choices(command, flag)) == list(table)


def test_cli_accepts_other_spellings_and_rejects_unknown_names_in_one_line(capsys):
    args = build_parser().parse_args(
        ["evaluate", "--model", "m", "--out", "o", "--benchmark", "MM_SafetyBench"]
    )
    assert args.benchmark == "mm-safetybench"
    assert main(["make-tiny-model", "--family", "qwen2.5", "--out", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "valid: llava" in err and "qwen2_5_vl" in err


class _EchoDefense(Defense):
    """A defense with an option of its own, registered by one line."""

    name = "echo"

    def __init__(self, vlm, prefix: str = "", **run) -> None:
        super().__init__(vlm, **run)
        self.prefix = prefix

    def respond(self, samples):
        return [{"response": self.prefix + s.prompt} for s in samples]


def test_a_defense_with_its_own_options_needs_one_registry_line(monkeypatch):
    from shiftdc.eval.runs import RunConfig
    from shiftdc.method.sample import Sample

    monkeypatch.setitem(DEFENSES, "echo", _EchoDefense)
    assert defense_options("echo") == {"prefix"}
    config = RunConfig(model="m", defense="echo", defense_options={"prefix": "> "})
    config.validate()
    assert config.defense_kwargs() == {"prefix": "> "}
    defense = get_defense("echo", None, **config.defense_kwargs())
    assert defense.respond([Sample("a", "hi")]) == [{"response": "> hi"}]
    assert "defense_options" in config.to_dict()
    assert "defense_options" not in RunConfig(model="m").to_dict()  # config.json unchanged
    with pytest.raises(InputError, match="takes no option 'colour'"):
        get_defense("echo", None, colour="red")
    with pytest.raises(InputError, match="takes no option 'prefix'"):
        RunConfig(model="m", defense="none", defense_options={"prefix": "x"}).validate()
