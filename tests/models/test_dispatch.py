"""A tiny LLaVA split over CPU and disk (accelerate dispatch) behaves like a plain load."""

import pytest
import torch

from shiftdc.errors import InputError
from shiftdc.method.direction import SafetyDirection
from shiftdc.method.pipeline import ShiftDC, generate_plain
from shiftdc.models import load_vlm
from shiftdc.models.dispatch import dispatch_kwargs, parse_max_memory
from tests.helpers.samples import fit_samples, requests

N_NEW = 6


def _device_map(plain) -> dict[str, str]:
    """Every top-level block on CPU except two decoder layers offloaded to disk."""
    layers_name = next(n for n, m in plain.model.named_modules() if m is plain.layers)
    dmap: dict[str, str] = {}
    n = plain.num_layers
    for i in range(n):
        dmap[f"{layers_name}.{i}"] = "disk" if i in (1, n - 1) else "cpu"
    # everything that is not a decoder layer stays on the CPU, named by its leaf modules
    covered = set(dmap)
    for name, _ in plain.model.named_modules():
        if not name or name == layers_name or name.startswith(layers_name + "."):
            continue
        if any(name.startswith(c + ".") for c in covered):
            continue
        if layers_name.startswith(name + "."):
            continue  # an ancestor of the decoder layers
        dmap[name] = "cpu"
        covered.add(name)
    return dmap


@pytest.fixture(scope="module")
def pair(tiny_dir, tiny_vlm, tmp_path_factory):
    plain = tiny_vlm("llava")
    dmap = _device_map(plain)
    off = load_vlm(
        tiny_dir("llava"),
        dtype="float32",
        device_map=dmap,
        offload_folder=str(tmp_path_factory.mktemp("offload")),
    )
    return plain, off


def test_offloaded_layers_are_meta_and_fingerprint_matches(pair):
    plain, off = pair
    metas = [n for n, p in off.model.named_parameters() if p.device.type == "meta"]
    assert metas, "the disk entries should leave meta parameters outside the forward"
    assert off.device == torch.device("cpu")
    assert off.fingerprint == plain.fingerprint


@pytest.mark.parametrize("mode", ["paper", "sequential"])
@pytest.mark.parametrize("share", [True, False])
def test_shiftdc_same_tokens_and_corrections(pair, mode, share, tmp_path):
    plain, off = pair
    safe, unsafe = fit_samples()
    d_plain = SafetyDirection.fit(plain, safe, unsafe, progress=False)
    d_off = SafetyDirection.fit(off, safe, unsafe, progress=False)
    torch.testing.assert_close(d_off.vectors, d_plain.vectors)
    outs = []
    for vlm, d in ((plain, d_plain), (off, d_off)):
        sd = ShiftDC(vlm, d, mode=mode, share_prefix=share, progress=False)
        sd.captioner.cache_dir = tmp_path / "captions"
        outs.append(sd.generate(requests(), max_new_tokens=N_NEW))
    for a, b in zip(*outs, strict=True):
        assert a.response == b.response
        assert a.caption == b.caption
        assert a.correction_norm == pytest.approx(b.correction_norm, rel=1e-4, abs=1e-5)
        assert a.shift_along_s == pytest.approx(b.shift_along_s, rel=1e-4, abs=1e-5)
    sample = requests()[1]
    ta = ShiftDC(plain, d_plain, mode=mode, progress=False).trace(sample)
    tb = ShiftDC(off, d_off, mode=mode, progress=False).trace(sample)
    torch.testing.assert_close(tb.correction, ta.correction)


def test_plain_generate_matches(pair):
    plain, off = pair
    assert generate_plain(off, requests(), N_NEW) == generate_plain(plain, requests(), N_NEW)


def test_dispatch_kwargs_and_bad_max_memory(monkeypatch):
    assert dispatch_kwargs(None) == {}
    assert parse_max_memory("0=20GiB, cpu=64GiB") == {0: "20GiB", "cpu": "64GiB"}
    with pytest.raises(InputError, match="DEVICE=SIZE"):
        parse_max_memory("20GiB")
    with pytest.raises(InputError, match="unknown --device-map"):
        dispatch_kwargs("everywhere")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    kw = dispatch_kwargs("auto", "0=10GiB,1=11GiB,cpu=5GiB")
    assert kw["max_memory"] == {2: "10GiB", 3: "11GiB", "cpu": "5GiB"}
