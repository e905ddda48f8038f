"""Activations from a tiny LLaVA: values, cache, ShiftDC's after sets, `shiftdc analyze`."""

import json

import numpy as np
import pytest
import torch

from shiftdc.analysis.collect import collect_sets
from shiftdc.analysis.shift import component_along
from shiftdc.cli import main
from shiftdc.data import builtin_items, direction_set
from shiftdc.method.direction import SafetyDirection
from shiftdc.method.pipeline import ShiftDC

FIGURES = ("probe_accuracy", "probe_confusion", "shift", "map_pca", "map_tsne")


@pytest.fixture(scope="module")
def items():
    """(safe, unsafe): three benign and three harmful builtin image items each."""
    pool = builtin_items(
        "eval", attacks=("TYPO", "SD_TYPO", "figstep"), kinds=("benign", "harmful")
    )
    safe = [it for it in pool if it.kind == "benign"][:3]
    unsafe = [it for it in pool if it.kind == "harmful"][:3]
    return safe, unsafe


@pytest.fixture(scope="module")
def direction(tiny_vlm):
    """A direction fitted on four safe and four unsafe builtin direction-set items."""
    safe, unsafe = direction_set()
    to = lambda group: [it.to_sample() for it in group[:4]]  # noqa: E731
    return SafetyDirection.fit(tiny_vlm("llava"), to(safe), to(unsafe), progress=False)


def count_forwards(vlm):
    """A list that grows by one per forward of the model, and the hook handle."""
    calls = []
    handle = vlm.model.register_forward_pre_hook(lambda *_: calls.append(1))
    return calls, handle


@torch.no_grad()
def reference(vlm, inputs):
    """Every decoder layer's last-token output by output_hidden_states (last: un-normed)."""
    out = vlm.model(**inputs, output_hidden_states=True)
    hs = out.hidden_states
    return torch.stack([h[0, -1] for h in hs[1:-1]]), hs[-1][0, -1]


def test_collected_activations_equal_an_independent_forward(tiny_vlm, items, tmp_path):
    vlm = tiny_vlm("llava")
    safe, unsafe = items
    col = collect_sets(vlm, safe, unsafe, cache_dir=tmp_path, batch_size=2, progress=False)
    assert col.before.counts() == {"tt_safe": 3, "tt_unsafe": 3, "vl_safe": 3, "vl_unsafe": 3}
    assert col.after is None and col.ids["unsafe"] == [it.id for it in unsafe]
    norm = vlm.model.get_decoder().norm
    for kind, group, row in (("safe", safe, 2), ("unsafe", unsafe, 0)):
        item = group[row]
        sample = item.to_sample()
        vl_in = vlm.adapter.encode_vl([sample.prompt], [sample.image])
        tt_in = vlm.adapter.encode_text([f"{item.prompt} Image Caption: {item.caption}"])
        for prefix, inputs in (("vl", vl_in), ("tt", tt_in)):
            got = torch.from_numpy(col.before.get(f"{prefix}_{kind}")[row])
            mid, final_normed = reference(vlm, inputs)
            torch.testing.assert_close(got[:-1], mid, atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(norm(got[-1]), final_normed, atol=1e-5, rtol=1e-4)
        assert col.caption_source[item.id] == "given"


def test_second_call_loads_the_cache_without_a_forward(tiny_vlm, items, tmp_path):
    vlm = tiny_vlm("llava")
    safe, unsafe = items
    first = collect_sets(vlm, safe, unsafe, cache_dir=tmp_path, progress=False)
    calls, handle = count_forwards(vlm)
    try:
        second = collect_sets(vlm, safe, unsafe, cache_dir=tmp_path, progress=False)
        assert calls == [] and second.cache_hits == {"before": True}
        np.testing.assert_array_equal(first.before.vl_unsafe, second.before.vl_unsafe)
        assert second.captions == first.captions
        collect_sets(vlm, safe[:2], unsafe, cache_dir=tmp_path, progress=False)
        assert calls, "other items must not hit the cache"
    finally:
        handle.remove()
    assert len(list(tmp_path.glob("*/activations.safetensors"))) == 2
    key = json.loads(next(tmp_path.glob("*/key.json")).read_text())["key"]
    assert key["model"] == vlm.fingerprint and key["captions"] == {"mode": "auto"}


@pytest.mark.parametrize("mode", ["sequential", "paper"])
def test_after_sets_are_read_on_the_calibrated_stream(tiny_vlm, items, direction, mode, tmp_path):
    vlm = tiny_vlm("llava")
    safe, unsafe = items
    sdc = ShiftDC(vlm, direction, layers=[1, 2, 3], mode=mode, progress=False)
    col = collect_sets(vlm, safe, unsafe, shiftdc=sdc, cache_dir=tmp_path, progress=False)
    s = direction.vectors.numpy().astype(np.float64)
    for kind in ("safe", "unsafe"):
        tt, before = col.before.get(f"tt_{kind}"), col.before.get(f"vl_{kind}")
        after = col.after.get(f"vl_{kind}")
        np.testing.assert_array_equal(col.after.get(f"tt_{kind}"), tt)
        np.testing.assert_allclose(after[:, 0], before[:, 0], atol=1e-6)  # upstream of layer 1
        comp_before = component_along(before - tt, s)
        comp_after = component_along(after - tt, s)
        assert np.abs(comp_before[:, 1:]).min() > 1e-4  # there was a component to remove
        # sequential: zero at every calibrated layer; paper: exactly only at the first one
        checked = [1, 2, 3] if mode == "sequential" else [1]
        np.testing.assert_allclose(comp_after[:, checked], 0.0, atol=1e-5)
    assert col.cache_hits == {"before": False, "after": False}
    again = collect_sets(vlm, safe, unsafe, shiftdc=sdc, cache_dir=tmp_path, progress=False)
    assert again.cache_hits == {"before": True, "after": True}


def write_run(run_dir, model, ids, seed=0):
    """A minimal `shiftdc evaluate` run directory with a verdict for each id."""
    run_dir.mkdir(parents=True)
    cfg = {"model": model, "benchmark": "builtin", "seed": seed, "defense": "none"}
    (run_dir / "config.json").write_text(json.dumps({**cfg, "judge": "keyword"}))
    with (run_dir / "records.jsonl").open("w") as fh:
        for i, item_id in enumerate(ids):
            fh.write(json.dumps({"id": item_id, "verdict": {"harmful": i % 2 == 0}}) + "\n")


def harmful_image_ids():
    return [it.id for it in builtin_items("eval", kinds=("harmful",)) if it.has_image]


def test_analyze_from_the_cli_before_and_after(tiny_dir, tmp_path, capsys):
    model, out = tiny_dir("llava"), tmp_path / "out"
    base = ["analyze", "--model", str(model), "--device", "cpu", "--quiet", "--limit", "5"]
    base += ["--cache-dir", str(tmp_path / "cache")]
    assert main([*base, "--out", str(out)]) == 0
    assert "text->vision probe accuracy" in capsys.readouterr().out
    for name in FIGURES:
        assert (out / f"{name}.png").stat().st_size > 1000, name
        assert (out / f"{name}.json").is_file(), name
    res = json.loads((out / "analysis.json").read_text())
    assert res["meta"]["counts"] == {"tt_safe": 5, "tt_unsafe": 5, "vl_safe": 5, "vl_unsafe": 5}
    assert res["findings"]["after"] is not None and res["meta"]["paired"] is True
    md = (out / "analysis.md").read_text()
    assert "## After ShiftDC" in md and "fitted on the built-in direction set" in md
    assert (out / "direction" / "direction.safetensors").is_file()

    run = tmp_path / "run"
    write_run(run, str(model), harmful_image_ids())
    out2 = tmp_path / "out2"
    argv = [*base, "--out", str(out2), "--run", str(run), "--direction", str(out / "direction")]
    assert main([*argv, "--layer", "2", "--no-tsne"]) == 0
    res2 = json.loads((out2 / "analysis.json").read_text())
    assert res2["meta"]["outcomes_given"] and res2["meta"]["layer"] == 2
    assert "before hit, after hit" in res2["meta"]["context"]["activation cache"]
    assert {"unsafe succeeded", "unsafe failed"} <= set(res2["shift"]["before"])
    assert res2["probes"]["before"]["accuracy"] == res["probes"]["before"]["accuracy"]
    rows = json.loads((out2 / "items.json").read_text())["rows"]
    verdicts = {i: k % 2 == 0 for k, i in enumerate(harmful_image_ids())}
    assert all(r["attack_succeeded"] == verdicts[r["id"]] for r in rows if r["kind"] == "unsafe")


@pytest.mark.parametrize(
    ("extra", "run", "expected"),
    [
        (["--limit", "3"], None, "too few samples for a 5-fold probe"),
        (["--layer", "9"], None, "has 4 decoder layers, so use 0..3"),
        (["--benchmark", "figstep"], None, "figstep: no data directory given"),
        ([], "other-model", "was made with model 'other/model'"),
        (["--limit", "5"], "partial", "the run judged 2 of the 416 harmful image requests"),
        ([], "partial", "no judge verdict for 414 of the 416 analysed unsafe items"),
    ],
)
def test_bad_input_is_one_line_error(tiny_dir, tmp_path, capsys, extra, run, expected):
    model = str(tiny_dir("llava"))
    argv = ["analyze", "--model", model, "--device", "cpu", "--quiet", "--out", str(tmp_path)]
    if run is not None:
        run_dir = tmp_path / "run"
        ids = harmful_image_ids()
        write_run(run_dir, "other/model" if run == "other-model" else model, ids[:2])
        argv += ["--run", str(run_dir)]
    assert main([*argv, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err, err
    assert "\n" not in err and err.startswith("shiftdc analyze: error:")
