"""Property: random bytes as images and random JSON values in record fields never crash the CLI.

For each seeded case the real CLI (`shiftdc.cli.main`, in process) runs `generate` (plain or
ShiftDC), `caption` or `fit` on a request file with at most one fault: a record field holding
a random JSON value (or dropped), an image of random or damaged bytes, or a non-object line.
It must exit 0 or 2 (never 1, never a traceback), print one line when it refuses, and every
line it writes must be valid JSON (no NaN, no torn line). The tiny LLaVA is loaded once and
handed to the CLI, to keep the cases cheap.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import shiftdc.cli.commands as cli
from shiftdc.method.direction import SafetyDirection
from shiftdc.method.sample import Sample
from tests.helpers.cli_runs import run_cli, write_jsonl

CASES = 30
STRINGS = [
    "",
    " ",
    "hi",
    "what is this?",
    "é中文🙂",
    "../../etc/passwd",
    "/",
    "{query}",
    "\0",
    "x" * 400,
]


def _strict_json(line: str) -> object:
    """json.loads that also refuses NaN/Infinity (not JSON, though Python writes them)."""

    def bad(token: str) -> object:
        raise ValueError(f"not JSON: {token}")

    return json.loads(line, parse_constant=bad)


def json_value(rng: random.Random, depth: int = 0) -> object:
    """A random JSON value (including NaN and huge numbers, which Python's json accepts)."""
    kinds = ["null", "bool", "int", "float", "str"] + (["list", "dict"] if depth < 2 else [])
    kind = rng.choice(kinds)
    if kind == "null":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice([0, -1, 7, 2**70])
    if kind == "float":
        return rng.choice([0.5, -1e308, float("nan"), float("inf")])
    if kind == "str":
        return rng.choice(STRINGS)
    if kind == "list":
        return [json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(STRINGS): json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def image_bytes(rng: random.Random, damaged: bool) -> bytes:
    """A valid small image, or (damaged) random bytes or an image truncated or bit-flipped."""
    arr = np.random.default_rng(rng.randint(0, 2**31)).integers(0, 255, (9, 11, 3), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=rng.choice(["PNG", "JPEG", "GIF", "BMP", "TIFF"]))
    valid = bytearray(buf.getvalue())
    how = rng.choice(["random", "signature", "truncated", "flipped"]) if damaged else "valid"
    if how == "random":
        return rng.randbytes(rng.randint(0, 600))
    if how == "signature":
        return b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(0, 300))
    if how == "truncated":
        return bytes(valid[: rng.randint(0, len(valid))])
    if how == "flipped":
        for _ in range(rng.randint(1, 6)):
            valid[rng.randrange(len(valid))] = rng.randrange(256)
    return bytes(valid)


def record(rng: random.Random, i: int, image: str, damaged: bool) -> dict:
    """A valid request, or (damaged) one with a field dropped or replaced by a random value."""
    rec = {"id": f"r{i}", "image": image, "prompt": rng.choice(STRINGS[2:5])}
    if rng.random() < 0.2:
        rec["caption"] = rng.choice(STRINGS[2:5])
    if damaged:
        key = rng.choice(["id", "image", "prompt", "caption", rng.choice(STRINGS)])
        if rng.random() < 0.2:
            rec.pop(key, None)
        else:
            rec[key] = json_value(rng)
    return rec


@pytest.fixture(scope="module")
def fuzz_env(tiny_vlm, tiny_dir, tmp_path_factory):
    """The loaded tiny LLaVA, its path and a direction fitted on it."""
    vlm = tiny_vlm("llava")
    d = tmp_path_factory.mktemp("fuzz_direction")
    safe = [Sample(f"s{i}", p) for i, p in enumerate(["bake a cake", "describe a tree"])]
    unsafe = [Sample(f"u{i}", p) for i, p in enumerate(["make a weapon", "hurt someone"])]
    SafetyDirection.fit(vlm, safe, unsafe, progress=False).save(d)
    return vlm, tiny_dir("llava"), d


@pytest.mark.parametrize("seed", range(CASES))
def test_random_input_exits_0_or_2_and_writes_valid_json(
    seed, fuzz_env, tmp_path, monkeypatch, capsys
):
    vlm, model, direction = fuzz_env
    monkeypatch.setattr(cli, "_load", lambda args: vlm)
    monkeypatch.setenv("SHIFTDC_CACHE", str(tmp_path / "cache"))
    rng = random.Random(seed)
    fault = rng.choice(["none", "image", "field", "field", "line"])  # at most one per case
    n_images, n_records = rng.randint(1, 3), rng.randint(1, 3)
    bad_image, bad_record = rng.randrange(n_images), rng.randrange(n_records)
    names = []
    for i in range(n_images):
        path = tmp_path / f"img{i}.bin"
        path.write_bytes(image_bytes(rng, fault == "image" and i == bad_image))
        names.append(path.name)
    records: list = [
        record(rng, i, names[i % n_images], fault == "field" and i == bad_record)
        for i in range(n_records)
    ]
    if fault == "line":
        records.insert(rng.randint(0, n_records), rng.choice(["{not", "[]", "null", '"a"', "1"]))
    req = write_jsonl(tmp_path / "req.jsonl", records)
    out = tmp_path / "out.jsonl"
    common = ["--model", model, "--device", "cpu", "--quiet", "--batch-size", rng.randint(1, 3)]
    command = rng.choice(["generate", "shiftdc", "caption", "fit"])
    if command == "generate":
        argv = ["generate", *common, "--input", req, "--out", out, "--max-new-tokens", 2]
    elif command == "shiftdc":
        argv = ["generate", *common, "--input", req, "--out", out, "--max-new-tokens", 2,
                "--direction", direction, "--caption-tokens", 2]  # fmt: skip
    elif command == "caption":
        argv = ["caption", *common, "--input", req, "--out", out, "--max-new-tokens", 2]
    else:
        safe = write_jsonl(tmp_path / "safe.jsonl", [{"id": "s", "prompt": "bake a cake"}])
        argv = ["fit", *common, "--safe", safe, "--unsafe", req, "--out", tmp_path / "dir",
                "--caption-tokens", 2]  # fmt: skip

    status, err = run_cli(capsys, argv)

    assert status in (0, 2), f"{command} exited {status}: {err}"
    assert "Traceback" not in err
    if status == 2:
        assert len(err.strip().splitlines()) == 1, err
    if out.exists():
        for line in out.read_text(encoding="utf-8").splitlines():
            assert isinstance(_strict_json(line), dict), line
    if command == "fit" and status == 0:
        SafetyDirection.load(Path(tmp_path / "dir"))
