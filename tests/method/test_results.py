"""ShiftDC's results: per-row corrections and the shift each record reports, against a naive
per-sample computation."""

import torch

from shiftdc.method.results import Calibration, ShiftResult, calibrated_results
from shiftdc.method.sample import Sample


def _calibration(seed: int = 0) -> tuple[Calibration, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    b, n_layers, h = 3, 5, 4
    layers = [1, 3]
    cal = Calibration(
        layers=layers,
        x_vl=torch.randn(b, n_layers, h, generator=g),
        x_tt=torch.randn(b, n_layers, h, generator=g),
        corrections=torch.randn(b, len(layers), h, generator=g),
    )
    return cal, torch.randn(n_layers, h, generator=g)


def test_as_dict_gives_each_layer_its_corrections_for_the_batch_or_one_row():
    cal, _ = _calibration()
    whole, row = cal.as_dict(), cal.as_dict(row=2)
    assert list(whole) == list(row) == [1, 3]
    for j, layer in enumerate(cal.layers):
        assert torch.equal(whole[layer], cal.corrections[:, j])
        assert row[layer].shape == (1, 4) and torch.equal(row[layer][0], cal.corrections[2, j])


def test_calibrated_results_match_a_per_sample_computation():
    cal, vectors = _calibration(1)
    batch = [Sample(f"id{b}", "p") for b in range(3)]
    results = calibrated_results(
        batch, ["r0", "r1", "r2"], ["c0", None, "c2"], cal, vectors, "paper"
    )
    for b, res in enumerate(results):
        assert (res.id, res.response, res.caption) == (f"id{b}", f"r{b}", ["c0", None, "c2"][b])
        assert res.calibrated and res.mode == "paper" and res.layers == [1, 3]
        for j, layer in enumerate(cal.layers):
            m = cal.x_vl[b, layer] - cal.x_tt[b, layer]
            s = vectors[layer]
            assert abs(res.shift_norm[j] - float(m.norm())) < 1e-5
            assert abs(res.shift_along_s[j] - float(m @ s / s.norm())) < 1e-5
            assert abs(res.correction_norm[j] - float(cal.corrections[b, j].norm())) < 1e-5


def test_a_record_holds_every_field_and_is_a_copy():
    res = ShiftResult("x", "answer", None, calibrated=False)
    rec = res.to_record()
    assert rec == {
        "id": "x",
        "response": "answer",
        "caption": None,
        "calibrated": False,
        "mode": None,
        "layers": [],
        "shift_norm": [],
        "shift_along_s": [],
        "correction_norm": [],
    }
    rec["id"] = "changed"
    assert res.id == "x"
