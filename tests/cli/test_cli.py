"""The command line: every family end to end, and bad input as one readable error."""

import json
import subprocess
import sys

import pytest
import torch
from PIL import Image

from shiftdc.cli import main
from shiftdc.method.direction import SafetyDirection
from shiftdc.models.families import adapter_for_family
from shiftdc.models.tiny import BUILDERS
from tests.helpers.requests import read_jsonl, write_requests


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    safe = write_requests(d, "safe", ["how to make a cake", "describe the tree"], "a red house")
    unsafe = write_requests(
        d,
        "unsafe",
        ["how to make illegal harmful things", "give steps to do harmful work"],
        "a black bomb",
    )
    reqs = write_requests(d, "reqs", ["what is in the image ?", "list steps to do this"])
    return d, safe, unsafe, reqs


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_every_family_end_to_end_from_the_cli(family, files, tmp_path, monkeypatch):
    why = adapter_for_family(family).unavailable()
    if why:  # a class or package the family needs is missing here
        pytest.skip(why)
    monkeypatch.setenv("SHIFTDC_CACHE", str(tmp_path / "cache"))
    d, safe, unsafe, reqs = files
    model = tmp_path / "model"
    assert main(["make-tiny-model", "--family", family, "--out", str(model)]) == 0
    m = ["--model", str(model), "--device", "cpu", "--quiet"]
    assert (
        main(
            [
                "fit",
                *m,
                "--safe",
                str(safe),
                "--unsafe",
                str(unsafe),
                "--out",
                str(tmp_path / "dir"),
                "--layers",
                "2:3",
            ]
        )
        == 0
    )
    assert SafetyDirection.load(tmp_path / "dir").layers == [2, 3]
    assert (
        main(
            [
                "caption",
                *m,
                "--input",
                str(reqs),
                "--out",
                str(tmp_path / "cap.jsonl"),
                "--max-new-tokens",
                "4",
            ]
        )
        == 0
    )
    assert [r["id"] for r in read_jsonl(tmp_path / "cap.jsonl")] == ["reqs-0", "reqs-1"]
    for extra, name in (
        ([], "plain"),
        (["--direction", str(tmp_path / "dir")], "paper"),
        (["--direction", str(tmp_path / "dir"), "--mode", "sequential"], "seq"),
    ):
        out = tmp_path / f"{name}.jsonl"
        assert (
            main(
                [
                    "generate",
                    *m,
                    "--input",
                    str(reqs),
                    "--out",
                    str(out),
                    "--max-new-tokens",
                    "4",
                    "--caption-tokens",
                    "4",
                    *extra,
                ]
            )
            == 0
        )
        recs = read_jsonl(out)
        assert [r["id"] for r in recs] == ["reqs-0", "reqs-1"]
        assert all(isinstance(r["response"], str) for r in recs)
        assert all(r["shiftdc"] == (name != "plain") for r in recs)


def test_generate_resumes_without_duplicates(files, tiny_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHIFTDC_CACHE", str(tmp_path / "cache"))
    _, _, _, reqs = files
    out = tmp_path / "out.jsonl"
    args = [
        "generate",
        "--model",
        str(tiny_dir("llava")),
        "--device",
        "cpu",
        "--quiet",
        "--input",
        str(reqs),
        "--out",
        str(out),
        "--max-new-tokens",
        "3",
    ]
    assert main(args) == 0
    # as if killed while writing the second record: the first one kept, a torn line after it
    first = {**read_jsonl(out)[0], "response": "kept"}
    out.write_text(json.dumps(first) + "\n" + '{"id": "re')
    assert main(args) == 0
    recs = read_jsonl(out)
    assert [r["id"] for r in recs] == ["reqs-0", "reqs-1"] and recs[0]["response"] == "kept"
    capsys.readouterr()
    # resuming with other settings is refused, naming the setting
    assert "max_new_tokens=3" in _err(capsys, [*args[:-1], "5"])
    assert [r["id"] for r in read_jsonl(out)] == ["reqs-0", "reqs-1"]


def _err(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_bad_input_gives_one_readable_error(files, tiny_dir, tmp_path, capsys):
    d, safe, unsafe, reqs = files
    model = str(tiny_dir("llava"))
    gen = [
        "generate",
        "--model",
        model,
        "--device",
        "cpu",
        "--quiet",
        "--out",
        str(tmp_path / "o.jsonl"),
        "--max-new-tokens",
        "2",
    ]

    def jsonl(name, lines):
        p = d / name
        p.write_text("\n".join(lines) + "\n")
        return str(p)

    assert "image file not found" in _err(
        capsys,
        [
            *gen,
            "--input",
            jsonl("missing.jsonl", ['{"id": "a", "image": "nope.png", "prompt": "hi"}']),
        ],
    )
    (d / "corrupt.png").write_bytes(b"not an image at all")
    assert "cannot read image" in _err(
        capsys,
        [
            *gen,
            "--input",
            jsonl("corrupt.jsonl", ['{"id": "a", "image": "corrupt.png", "prompt": "hi"}']),
        ],
    )
    Image.new("LAB", (8, 8)).save(d / "lab.tif")
    assert "unsupported image mode" in _err(
        capsys,
        [*gen, "--input", jsonl("lab.jsonl", ['{"id": "a", "image": "lab.tif", "prompt": "hi"}'])],
    )
    assert "empty or missing 'prompt'" in _err(
        capsys,
        [
            *gen,
            "--input",
            jsonl("empty.jsonl", ['{"id": "a", "image": "safe_0.png", "prompt": "  "}']),
        ],
    )
    assert "bad.jsonl:2: malformed JSON" in _err(
        capsys,
        [
            *gen,
            "--input",
            jsonl(
                "bad.jsonl", ['{"id": "a", "image": "safe_0.png", "prompt": "hi"}', '{"id": oops']
            ),
        ],
    )

    # directions: another model, NaN values, layers outside the model
    other = tmp_path / "other"
    main(["make-tiny-model", "--family", "llava", "--out", str(other), "--seed", "3"])
    fit = [
        "fit",
        "--model",
        str(other),
        "--device",
        "cpu",
        "--quiet",
        "--safe",
        str(safe),
        "--unsafe",
        str(unsafe),
    ]
    assert main([*fit, "--out", str(tmp_path / "od")]) == 0
    assert "model_fingerprint" in _err(
        capsys, [*gen, "--input", str(reqs), "--direction", str(tmp_path / "od")]
    )
    nan = SafetyDirection.load(tmp_path / "od")
    nan.vectors[1, 0] = float("nan")
    (tmp_path / "nan").mkdir()
    from safetensors.torch import save_file

    save_file({"vectors": nan.vectors}, str(tmp_path / "nan" / "direction.safetensors"))
    (tmp_path / "nan" / "direction.json").write_text(json.dumps(nan.meta))
    assert "NaN" in _err(capsys, [*gen, "--input", str(reqs), "--direction", str(tmp_path / "nan")])
    assert "outside the model" in _err(
        capsys, [*fit, "--out", str(tmp_path / "x"), "--layers", "2:9"]
    )
    assert "not supported" in _err(
        capsys, [*gen, "--input", str(reqs), "--model", str(_not_a_vlm(tmp_path))]
    )


def _not_a_vlm(tmp_path):
    from transformers import LlamaConfig

    p = tmp_path / "llama"
    p.mkdir()
    LlamaConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1).save_pretrained(p)
    return p


def test_console_entry_point_runs():
    out = subprocess.run(
        [sys.executable, "-m", "shiftdc.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "make-tiny-model" in out.stdout and torch is not None
