"""Hand-built run records shared by the metric and report tests."""

import pytest


def _rec(i, kind, harmful=False, refused=False, **extra):
    verdict = {"harmful": harmful, "refused": refused, "detail": "", "judge": "keyword"}
    return {
        "id": f"{kind}-{i}",
        "kind": kind,
        "response": "r",
        "verdict": verdict,
        "answer": None,
        "error": None,
        **extra,
    }


@pytest.fixture
def records():
    """5 harmful (ASR 2/5), 4 benign (1 refused), 4 MME-style utility, 2 errors."""
    harmful = [
        _rec(1, "harmful", True, scenario="A", attack="SD"),
        _rec(2, "harmful", True, scenario="A", attack="TYPO"),
        _rec(3, "harmful", False, True, scenario="A", attack="SD"),
        _rec(4, "harmful", False, True, scenario="B", attack="TYPO"),
        _rec(5, "harmful", False, True, scenario="B", attack="SD"),
    ]
    benign = [_rec(i, "benign", refused=(i == 0)) for i in range(4)]
    utility = [
        {
            "id": "u1",
            "kind": "utility",
            "benchmark": "mme",
            "subtask": "existence",
            "image_id": "i1",
            "answer": "Yes",
            "response": "Yes, there is.",
            "error": None,
        },
        {
            "id": "u2",
            "kind": "utility",
            "benchmark": "mme",
            "subtask": "existence",
            "image_id": "i1",
            "answer": "no",
            "response": "No",
            "error": None,
        },
        {
            "id": "u3",
            "kind": "utility",
            "benchmark": "mme",
            "subtask": "existence",
            "image_id": "i2",
            "answer": "yes",
            "response": "yes",
            "error": None,
        },
        {
            "id": "u4",
            "kind": "utility",
            "benchmark": "mme",
            "subtask": "existence",
            "image_id": "i2",
            "answer": "no",
            "response": "I am not sure.",
            "error": None,
        },
    ]
    errors = [
        {
            "id": "e1",
            "kind": "harmful",
            "scenario": "A",
            "attack": "SD",
            "verdict": None,
            "response": None,
            "error": "CUDA out of memory",
        },
        {"id": "e2", "kind": "benign", "verdict": None, "response": None, "error": "timeout"},
    ]
    return harmful + benign + utility + errors
