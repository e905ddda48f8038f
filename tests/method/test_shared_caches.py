"""Caches shared by concurrent processes: atomic entries, damaged ones recomputed."""

import multiprocessing as mp

import torch

from shiftdc.analysis.cache import ActivationCache
from shiftdc.method.captions import Captioner
from shiftdc.method.sample import Sample
from tests.helpers.samples import image

N = 24
ROUNDS = 15


class _FakeVLM:
    name = "fake"
    fingerprint = "f" * 16


class _EchoCaptioner(Captioner):
    """A captioner whose 'model' answers with a long text derived from the query."""

    def _generate(self, samples):
        return [expected(s) for s in samples]


def expected(s: Sample) -> str:
    return f"caption of {s.prompt} " + "x" * 4000


def samples() -> list[Sample]:
    return [Sample(f"s{i}", f"request {i}", image(i)) for i in range(N)]


def _writer(cache_dir: str, seed: int, bad: "mp.Queue") -> None:
    cap = _EchoCaptioner(_FakeVLM(), cache_dir=cache_dir, progress=False)
    ss = samples()
    for r in range(ROUNDS):
        order = ss[seed + r :] + ss[: seed + r]
        cap.store(order, [expected(s) for s in order])  # rewrite every entry
        for s, c in zip(ss, cap.cached(ss), strict=True):
            if c is not None and c != expected(s):
                bad.put(s.id)


def test_two_writers_never_corrupt_an_entry(tmp_path):
    ctx = mp.get_context("fork")
    bad = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), k, bad)) for k in (0, 7)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert bad.empty(), "a reader saw a partial or foreign caption"
    cap = _EchoCaptioner(_FakeVLM(), cache_dir=tmp_path, progress=False)
    ss = samples()
    assert cap.cached(ss) == [expected(s) for s in ss]
    assert not list(tmp_path.rglob("*.tmp")), "temporary files left behind"


def test_truncated_caption_entry_is_recomputed(tmp_path):
    cap = _EchoCaptioner(_FakeVLM(), cache_dir=tmp_path, progress=False)
    ss = samples()[:3]
    assert cap.caption(ss) == [expected(s) for s in ss]
    assert cap.generated == 3
    path = cap._path(cap.key(ss[1]))
    path.write_bytes(path.read_bytes()[:50])
    assert cap.cached(ss)[1] is None
    assert cap.caption(ss) == [expected(s) for s in ss]
    assert cap.generated == 4  # only the damaged entry was made again
    assert cap.cached(ss)[1] == expected(ss[1])


def test_partial_activation_entry_is_recomputed(tmp_path):
    cache = ActivationCache(tmp_path)
    key = {"model": "m", "ids": [1, 2]}
    t = {"a": torch.arange(1000.0).reshape(10, 100)}
    d = cache.save(key, t, {"n": 1})
    got, meta = cache.load(key)
    torch.testing.assert_close(got["a"], t["a"])
    assert meta == {"n": 1}
    f = d / "activations.safetensors"
    data = f.read_bytes()
    f.write_bytes(data[: len(data) - 8] + b"\0" * 8)  # same size, damaged tail
    assert cache.load(key) == (None, {})
    f.write_bytes(data[: len(data) // 2])
    assert cache.load(key) == (None, {})
