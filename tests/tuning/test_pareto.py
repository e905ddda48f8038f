"""The Pareto plot: a file, and labels that do not collide (nearby points included)."""

import itertools

from shiftdc.tuning.pareto import pareto_plot


def _row(name, benign, harmful):
    return {"config": name, "benign_refusal": benign, "harmful_refusal": harmful}


def test_labels_do_not_collide(tmp_path):
    rows = [_row("direct", 0.0, 0.0), _row("counterpart", 0.1, 0.9)]
    rows += [
        _row(f"paper-L{a}-29-a{b}", 0.02 * a + 0.01 * b, 0.3 + 0.02 * a)
        for a, b in itertools.product(range(4), range(3))
    ]
    rows.append(_row("same-place", 0.0, 0.0))  # shares the direct point's label
    rows += [_row("top-edge-a", 0.125, 0.96), _row("top-edge-b", 0.0, 0.96)]  # near the title
    boxes, frame = pareto_plot(rows, "paper-L1-29-a1", tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert len(boxes) == len({(r["benign_refusal"], r["harmful_refusal"]) for r in rows})
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)
    for b in boxes:  # inside the axes: clear of the title and the figure's edges
        assert frame.contains(b.x0, b.y0) and frame.contains(b.x1, b.y1)
