"""The training stages' schedule helpers (pure)."""

import pytest

from testbed_training.training import lr_factor, progress


def test_progress_follows_whichever_budget_runs_out_first():
    assert progress(30, 60, 1, 100) == pytest.approx(0.5)  # time
    assert progress(6, 60, 75, 100) == pytest.approx(0.75)  # steps
    assert progress(120, 60, 0, 0) == 1.0 and progress(5, 0, 0, 0) == 0.0


def test_lr_warms_up_then_decays_to_a_tenth():
    assert lr_factor(0, 50, 0.0) == pytest.approx(1 / 50)
    assert lr_factor(49, 50, 0.0) == pytest.approx(1.0)
    assert lr_factor(500, 50, 0.5) == pytest.approx(0.55)
    assert lr_factor(500, 50, 1.0) == pytest.approx(0.1)


def test_alignment_check_reads_a_split_as_text_and_as_counterparts():
    from shiftdc.data import builtin_requests
    from testbed_training.check_align import forms

    got = forms("tune", "benign")
    reqs = builtin_requests("tune", "benign")
    assert got["text"] == [r.request for r in reqs]
    assert len(got["counterpart"]) == len(reqs)
    for r, prompt in zip(reqs, got["counterpart"], strict=True):
        assert " Image Caption: " in prompt and f'"{r.key_phrase}"' in prompt


def _rows(ht, hc, bt, bc):
    cells = [("harmful", "text", ht), ("harmful", "counterpart", hc)]
    cells += [("benign", "text", bt), ("benign", "counterpart", bc)]
    return [dict(kind=k, form=f, refusal=r) for k, f, r in cells]


def test_alignment_candidate_choice_follows_the_targets():
    from testbed_training.check_align import choose, shortfall

    meets, close, far = _rows(0.95, 0.9, 0.0, 0.1), _rows(0.9, 0.8, 0.1, 0.1), _rows(1, 1, 0.5, 0.5)
    assert shortfall(meets) == 0
    assert shortfall(close) == pytest.approx(0.1) and shortfall(far) == pytest.approx(0.85)
    assert choose([far, close]) == 1 and choose([far, meets, _rows(1, 1, 0, 0)]) == 1


@pytest.mark.parametrize("flag", ["--benign-phrasings", "--described"])
def test_alignment_refuses_more_forms_than_exist(tmp_path, flag):
    import os
    import subprocess
    import sys

    out = tmp_path / "lora"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-m", "testbed_training.train_align", flag, "7", "--out", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert run.returncode == 2 and f"{flag} 7: there are" in run.stderr
    assert not out.exists()
