"""The testbed figure: harmful and benign side by side, labels clear of the error bars."""

from __future__ import annotations

import matplotlib

from shiftdc.testbed.figure import condition_of, plot_refusals, refusal_figure

matplotlib.use("Agg")

ROWS = [
    {"condition": "harmful text", "kind": "harmful", "refusal": 0.95, "ci95": [0.88, 1.0]},
    {"condition": "harmful TYPO", "kind": "harmful", "refusal": 0.05, "ci95": [0.0, 0.12]},
    {"condition": "benign text", "kind": "benign", "refusal": 0.10, "ci95": [0.02, 0.2]},
    {"condition": "benign TYPO", "kind": "benign", "refusal": 0.0, "ci95": [0.0, 0.0]},
]


def test_condition_drops_the_kind_prefix():
    assert condition_of(ROWS[0]) == "text"
    assert condition_of({"condition": "TYPO counterpart", "kind": "benign"}) == ("TYPO counterpart")


def test_groups_pair_harmful_with_benign_and_labels_clear_the_intervals():
    fig = refusal_figure(ROWS, "t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["TYPO", "text"]
    texts = ax.texts
    assert len(texts) == len(ROWS)
    for row, text in zip(ROWS, texts, strict=True):
        x, y = text.get_position()
        assert text.get_text() == f"{100 * row['refusal']:.0f}%"
        assert x > 100 * row["ci95"][1]  # right of the interval's upper end
    # every label lies right of every error-bar segment drawn at its height
    segs = [
        seg
        for c in ax.containers
        if hasattr(c, "lines")
        for coll in c.lines[2]
        for seg in coll.get_segments()
    ]
    assert segs
    for text in texts:
        x, y = text.get_position()
        for seg in segs:
            if abs(seg[0][1] - y) < 1e-6:
                assert x > max(seg[0][0], seg[1][0])
    # the harmful and benign bars of one condition share the group's tick, one above the other
    ys = sorted(t.get_position()[1] for t in texts)
    assert ys[1] - ys[0] < 0.5 and ys[3] - ys[2] < 0.5 and ys[2] - ys[1] > 0.5
    assert ax.get_xlim()[1] > 100


def test_plot_writes_png_and_rows(tmp_path):
    path = plot_refusals(ROWS, tmp_path / "r.png", "t")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert path.with_suffix(".json").exists()
