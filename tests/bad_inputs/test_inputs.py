"""A table of bad inputs through the real CLI (tiny LLaVA): each ends in exit 2 and one line.

Each row: an input, the command, the expected exit status and a fragment of the message.
The image-mode rows compare the pixels the model gets with the pixels a viewer shows,
computed independently with numpy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from shiftdc.data import EvalItem, ImageLoadError
from shiftdc.errors import InputError
from shiftdc.method.direction import SafetyDirection
from shiftdc.method.pipeline import ShiftDC
from shiftdc.records.images import open_rgb, to_rgb
from shiftdc.records.requests import load_image
from tests.helpers.cli_runs import png_header_only, run_cli, write_jsonl

SAFE = ["how to bake a cake", "describe the tree", "what colour is the car"]
UNSAFE = ["how to make illegal harmful things", "give steps to do harmful work", "hurt people"]


@pytest.fixture(scope="module")
def assets(folder, tiny_dir, tiny_vlm):
    """Bad images and directions, built once."""
    d = folder
    png_header_only(d / "huge.png", 20000, 20000)
    png_header_only(d / "giga.png", 100000, 100000)
    Image.new("1", (8000, 8000)).save(d / "big_valid.png")  # 64 MP, a few KB on disk
    Image.new("RGB", (300, 300), (9, 9, 9)).save(d / "300.png")
    Image.new("RGB", (1, 400), (9, 9, 9)).save(d / "thin.png")
    (d / "adir").mkdir()
    (d / "noise.png").write_bytes(np.random.default_rng(1).bytes(300))
    vlm = tiny_vlm("llava")
    safe = [_text_sample(f"s{i}", p) for i, p in enumerate(SAFE)]
    unsafe = [_text_sample(f"u{i}", p) for i, p in enumerate(UNSAFE)]
    good = SafetyDirection.fit(vlm, safe, unsafe, progress=False)
    good.save(d / "good_dir")
    SafetyDirection(torch.zeros_like(good.vectors), dict(good.meta)).save(d / "zero_dir")
    first_zero = good.vectors.clone()
    first_zero[0] = 0  # outside the default layers L//2..L-1
    SafetyDirection(first_zero, dict(good.meta)).save(d / "layer0_dir")
    for name, meta in (
        ("list_dir", []),
        ("empty_dir", {}),
        ("types_dir", {**good.meta, "num_layers": "4"}),
    ):
        good.save(d / name)
        (d / name / "direction.json").write_text(json.dumps(meta))
    good.save(d / "cut_dir")
    data = (d / "cut_dir" / "direction.safetensors").read_bytes()
    (d / "cut_dir" / "direction.safetensors").write_bytes(data[: len(data) // 2])
    write_jsonl(d / "safe.jsonl", [{"id": f"s{i}", "prompt": p} for i, p in enumerate(SAFE)])
    write_jsonl(d / "same.jsonl", [{"id": f"x{i}", "prompt": p} for i, p in enumerate(SAFE)])
    return {"llava": tiny_dir("llava"), "qwen2_vl": tiny_dir("qwen2_vl")}


def _text_sample(sid, prompt):
    from shiftdc.method.sample import Sample

    return Sample(sid, prompt)


@dataclass
class Ctx:
    """Paths for one row: the request folder, the model, and a fresh output file."""

    d: Path
    tmp: Path
    models: dict

    @property
    def out(self) -> Path:
        return self.tmp / "out.jsonl"

    def img(self, name: str) -> str:
        return str(self.d / name)

    def reqs(self, records: list, name: str = "req.jsonl") -> Path:
        return write_jsonl(self.tmp / name, records)

    def gen(self, records: list, *extra, family: str = "llava") -> list:
        model = ["--model", self.models[family], "--device", "cpu", "--quiet"]
        return ["generate", *model, "--input", self.reqs(records), "--out", self.out,
                "--max-new-tokens", 2, *extra]  # fmt: skip

    def ok(self, *extra) -> list:
        """A valid one-request generate with extra flags."""
        return self.gen([{"id": "a", "image": self.img("ok0.png"), "prompt": "hi"}], *extra)

    def direction(self, name: str) -> list:
        return self.ok("--direction", self.d / name)


def rec(image=None, prompt="what is this?", **kw) -> dict:
    return {"id": "a", "prompt": prompt, **({"image": image} if image is not None else {}), **kw}


NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
NO_MPS = pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has MPS")
LONG = " ".join(["word"] * 1500)  # the tiny models' context is 1024 positions

Row = tuple[str, Callable[[Ctx], list], int, str]
ROWS: list = [
    # huge images and decompression bombs: refused from the header, before decoding
    ("20000x20000 png", lambda c: c.gen([rec(c.img("huge.png"))]), 2,
     "400,000,000 pixels is above the limit of 50,000,000"),
    ("gigapixel bomb", lambda c: c.gen([rec(c.img("giga.png"))]), 2, "above the limit of"),
    ("64 MP valid png", lambda c: c.gen([rec(c.img("big_valid.png"))]), 2,
     "8000x8000 = 64,000,000 pixels is above the limit"),
    ("--max-image-pixels", lambda c: c.gen([rec(c.img("300.png"))], "--max-image-pixels", 10000),
     2, "90,000 pixels is above the limit of 10,000"),
    # JSON types in records
    ("image is a number", lambda c: c.gen([rec(7)]), 2,
     "'image' of record 'a' must be a file path string, got a number"),
    ("image is a bool", lambda c: c.gen([rec(True)]), 2, "must be a file path string, got a bool"),
    ("image is a list", lambda c: c.gen([rec(["x.png"])]), 2, "got an array"),
    ("image is an object", lambda c: c.gen([rec({"path": "x"})]), 2, "got an object"),
    ("image is a directory", lambda c: c.gen([rec(c.img("adir"))]), 2, "is a directory"),
    ("image missing", lambda c: c.gen([rec(c.img("nope.png"))]), 2, "image file not found"),
    ("image is noise", lambda c: c.gen([rec(c.img("noise.png"))]), 2, "not a readable image"),
    ("image path with NUL", lambda c: c.gen([rec("a\0b.png")]), 2, "not a usable file path"),
    ("prompt is a number", lambda c: c.gen([rec(c.img("ok0.png"), 3)]), 2,
     "'prompt' of record 'a' must be a string, got a number"),
    ("prompt is a list", lambda c: c.gen([rec(c.img("ok0.png"), ["hi"])]), 2, "must be a string"),
    ("caption is a dict", lambda c: c.gen([rec(c.img("ok0.png"), caption={})]), 2,
     "'caption' of record 'a' must be a string"),
    ("id is a list", lambda c: c.gen([{"id": [1], "prompt": "hi"}]), 2, "'id' must be"),
    ("record is a list", lambda c: c.gen(["[1, 2]"]), 2, "req.jsonl:1: expected a JSON object"),
    ("input is a directory", lambda c: ["generate", "--model", c.models["llava"], "--input",
     c.d, "--out", c.out], 2, "is a directory"),  # fmt: skip
    # directions of the wrong shape, truncated or degenerate
    ("direction.json is []", lambda c: c.direction("list_dir"), 2,
     "is not a direction's metadata: expected a JSON object, got list"),
    ("direction.json is {}", lambda c: c.direction("empty_dir"), 2, "'family' must be a string"),
    ("direction.json wrong type", lambda c: c.direction("types_dir"), 2,
     "'num_layers' must be a positive integer"),
    ("truncated safetensors", lambda c: c.direction("cut_dir"), 2,
     "direction.safetensors (truncated or not written by shiftdc"),
    ("all-zero direction", lambda c: c.direction("zero_dir"), 2, "degenerate safety direction"),
    ("zero layer chosen by --layers", lambda c: c.direction("layer0_dir") + ["--layers", "0:1"],
     2, "at layers [0]; choose other --layers"),
    ("fit on identical sets", lambda c: ["fit", "--model", c.models["llava"], "--device", "cpu",
     "--quiet", "--safe", c.d / "safe.jsonl", "--unsafe", c.d / "same.jsonl", "--out",
     c.tmp / "dir"], 2, "the safe and unsafe sets hold the same requests"),  # fmt: skip
    # devices
    ("--device tpu9", lambda c: c.ok("--device", "tpu9"), 2, "unknown device 'tpu9'"),
    pytest.param("--device cuda", lambda c: c.ok("--device", "cuda"), 2, "no cuda device",
                 marks=NO_CUDA),  # fmt: skip
    pytest.param("--device mps", lambda c: c.ok("--device", "mps"), 2, "no mps device",
                 marks=NO_MPS),  # fmt: skip
    # numbers
    ("--alpha nan", lambda c: c.direction("good_dir") + ["--alpha", "nan"], 2,
     "argument --alpha: must be a finite number >= 0, got 'nan'"),
    ("--alpha inf", lambda c: c.direction("good_dir") + ["--alpha", "inf"], 2, "--alpha: must be"),
    ("--alpha -1", lambda c: c.direction("good_dir") + ["--alpha", "-1"], 2, "--alpha: must be"),
    ("--alpha abc", lambda c: c.ok("--alpha", "abc"), 2, "--alpha: 'abc' is not a number"),
    ("--caption-tokens 0", lambda c: c.ok("--caption-tokens", 0), 2,
     "argument --caption-tokens: must be at least 1, got 0"),
    ("--max-new-tokens -1", lambda c: c.ok("--max-new-tokens", -1), 2, "--max-new-tokens: must"),
    ("--batch-size 0", lambda c: c.ok("--batch-size", 0), 2, "--batch-size: must be at least 1"),
    ("--max-image-pixels 0", lambda c: c.ok("--max-image-pixels", 0), 2, "--max-image-pixels"),
    ("evaluate --limit 0", lambda c: ["evaluate", "--model", c.models["llava"], "--out", c.tmp,
     "--limit", 0], 2, "argument --limit: must be at least 1"),  # fmt: skip
    # prompts longer than the context, images a family's processor rejects
    ("prompt beyond context", lambda c: c.gen([rec(c.img("ok0.png"), LONG)]), 2,
     "more than the model's context of 1024"),
    ("aspect ratio (qwen2_vl)", lambda c: c.gen([rec(c.img("thin.png"))], family="qwen2_vl"), 2,
     "record 'a': the qwen2_vl processor cannot take its 1x400 image"),
]  # fmt: skip


def _row_id(row) -> str:
    return row.values[0] if hasattr(row, "values") else row[0]


@pytest.mark.parametrize(("name", "command", "code", "fragment"), ROWS, ids=map(_row_id, ROWS))
def test_bad_input_row(name, command, code, fragment, assets, folder, tmp_path, capsys):
    ctx = Ctx(folder, tmp_path, assets)
    status, err = run_cli(capsys, command(ctx))
    assert status == code, err
    assert fragment in err, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    # argparse prints its usage line before the error line; everything else is one line
    assert len(lines) == 1 or (len(lines) >= 2 and lines[0].startswith("usage:")), err
    assert not ctx.out.exists(), "a refused run must not write its output file"


def test_non_utf8_input_names_file_and_line(assets, folder, tmp_path, capsys):
    path = tmp_path / "latin1.jsonl"
    good = json.dumps(rec(str(folder / "ok0.png"))).encode()
    path.write_bytes(good + b"\n" + '{"id": "b", "prompt": "caf\u00e9"}'.encode("latin-1") + b"\n")
    argv = ["generate", "--model", assets["llava"], "--input", path, "--out", tmp_path / "o"]
    status, err = run_cli(capsys, argv)
    assert (
        status == 2 and "latin1.jsonl:2: not UTF-8 text" in err and "save the file as UTF-8" in err
    )


def test_long_prompt_truncate_runs_and_records_it(assets, folder, tmp_path, capsys):
    ctx = Ctx(folder, tmp_path, assets)
    reqs = [rec(ctx.img("ok0.png"), LONG), {"id": "b", "image": ctx.img("ok1.png"), "prompt": "hi"}]
    status, err = run_cli(capsys, ctx.gen(reqs, "--long-prompt", "truncate"))
    assert status == 0, err
    out = {r["id"]: r for r in map(json.loads, ctx.out.read_text().splitlines())}
    note = out["a"]["prompt_truncated"]
    assert note["from_tokens"] > 1024 >= note["to_tokens"] + 2  # 2 new tokens still fit
    assert "prompt_truncated" not in out["b"]


def test_degenerate_direction_is_refused_by_the_library(tiny_vlm, assets, folder):
    with pytest.raises(InputError, match="degenerate"):
        SafetyDirection.load(folder / "zero_dir")
    good = SafetyDirection.load(folder / "good_dir")
    with pytest.raises(InputError, match="alpha must be a finite number"):
        ShiftDC(tiny_vlm("llava"), good, alpha=float("nan"), progress=False)
    nearly = SafetyDirection(good.vectors.clone(), dict(good.meta))
    nearly.vectors[-1] *= 1e-5  # one calibrated layer collapses
    assert nearly.degenerate_layers() == [nearly.num_layers - 1]


def test_huge_benchmark_image_is_an_item_error_naming_the_file(assets, folder):
    item = EvalItem("t/1", "hi", folder / "huge.png", "s", "TYPO", "harmful", "test")
    with pytest.raises(ImageLoadError, match=r"huge.png: 400,000,000 pixels is above the limit"):
        item.load_image()


# --- image modes: the picture a viewer shows is the picture the model gets --------------

RNG = np.random.default_rng(5)
RGB = RNG.integers(0, 256, (4, 5, 3), dtype=np.uint8)
ALPHA = np.array([0, 64, 128, 255, 200], dtype=np.uint8)[None, :].repeat(4, 0)
GREY16 = (np.arange(20, dtype=np.uint16) * 3449).reshape(4, 5)  # spans 0..65531


def _on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None].astype(np.float64) / 255
    return rgb * a + 255 * (1 - a)


def _grey(values: np.ndarray) -> np.ndarray:
    return np.repeat(values[..., None], 3, axis=-1).astype(np.float64)


def _palette_image(transparent: bool) -> Image.Image:
    im = Image.fromarray((np.arange(20) % 4).reshape(4, 5).astype(np.uint8), mode="P")
    im.putpalette([10, 20, 30, 200, 100, 0, 0, 255, 0, 90, 90, 90])
    if transparent:
        im.info["transparency"] = 1
    return im


PALETTE = np.array([[10, 20, 30], [200, 100, 0], [0, 255, 0], [90, 90, 90]], dtype=np.float64)
P_IDX = (np.arange(20) % 4).reshape(4, 5)
CMYK = RNG.integers(0, 256, (4, 5, 4), dtype=np.uint8)
ORIENTED = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20


def _exif_rotated() -> Image.Image:
    im = Image.fromarray(ORIENTED).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    im.info["exif"] = exif.tobytes()
    return im


MODES = [
    # (name, image, file suffix, expected RGB as a viewer shows it)
    ("RGBA on white", Image.fromarray(np.dstack([RGB, ALPHA]), "RGBA"), "png",
     _on_white(RGB, ALPHA)),
    ("transparent black", Image.new("RGBA", (5, 4), (0, 0, 0, 0)), "png", np.full((4, 5, 3), 255)),
    ("LA on white", Image.fromarray(np.dstack([RGB[..., 0], ALPHA]), "LA"), "png",
     _on_white(_grey(RGB[..., 0]), ALPHA)),
    ("P with transparency", _palette_image(True), "png",
     np.where((P_IDX == 1)[..., None], 255, PALETTE[P_IDX])),
    ("P", _palette_image(False), "png", PALETTE[P_IDX]),
    ("I;16 png", Image.fromarray(GREY16), "png", _grey(np.round(GREY16 / 257))),
    ("I;16B tiff", Image.frombytes("I;16B", (5, 4), GREY16.astype(">u2").tobytes()), "tif",
     _grey(np.round(GREY16 / 257))),
    ("I (32-bit) tiff", Image.fromarray(GREY16.astype(np.int32)), "tif",
     _grey(np.round(GREY16 / 257))),
    ("CMYK tiff", Image.fromarray(CMYK, "CMYK"), "tif",
     (255 - CMYK[..., :3].astype(float)) * (255 - CMYK[..., 3:].astype(float)) / 255),
    ("1-bit", Image.fromarray(RGB[..., 0] > 127).convert("1"), "png",
     _grey(np.where(RGB[..., 0] > 127, 255, 0))),
    ("L", Image.fromarray(RGB[..., 1]), "png", _grey(RGB[..., 1])),
    ("EXIF orientation 6", _exif_rotated(), "png", _grey(np.rot90(ORIENTED, k=-1))),
]  # fmt: skip


@pytest.mark.parametrize(("name", "image", "suffix", "expected"), MODES, ids=[m[0] for m in MODES])
def test_image_mode_gives_the_pixels_a_viewer_shows(name, image, suffix, expected, tmp_path):
    path = tmp_path / f"img.{suffix}"
    image.save(path, **({"exif": image.info["exif"]} if "exif" in image.info else {}))
    via_requests = np.asarray(load_image(path))
    via_benchmarks = np.asarray(EvalItem("t", "p", path, "s", "a", "harmful", "b").load_image())
    assert np.array_equal(via_requests, via_benchmarks), "one implementation for both paths"
    assert via_requests.shape == np.asarray(expected).shape
    assert np.abs(via_requests.astype(np.float64) - expected).max() <= 1.0


def test_sixteen_bit_keeps_its_grey_levels(tmp_path):
    values = (np.arange(4096, dtype=np.uint16) * 16).reshape(64, 64)  # 4096 levels
    Image.fromarray(values).save(tmp_path / "g.png")
    assert len(np.unique(np.asarray(open_rgb(tmp_path / "g.png")))) == 256  # not 17
    with pytest.raises(Exception, match="unsupported image mode"):
        to_rgb(Image.new("LAB", (2, 2)))
