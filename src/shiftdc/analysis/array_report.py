"""analyze_arrays: every diagnosis on the four sets, written as figures, JSON and markdown."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .findings import key_numbers, render_markdown
from .maps import Map2D, pca_map, tsne_map
from .plots import plot_confusion, plot_map, plot_probe_accuracy, plot_shift, write_json
from .probes import ProbeResult, probe_layers
from .sets import ActivationSets, as_sets, check_layer
from .shift import (
    ShiftStats,
    check_direction,
    check_outcomes,
    safety_direction,
    shift_by_outcome,
    shift_stats,
)

SetsLike = ActivationSets | Mapping[str, object]


def shift_groups(
    sets: ActivationSets, s: object, outcomes: object | None, *, paired: bool
) -> dict[str, ShiftStats | None]:
    """Shift geometry of the unsafe inputs (split by outcome if given) and of the safe inputs."""
    unsafe = shift_by_outcome(sets.tt_unsafe, sets.vl_unsafe, s, outcomes, paired=paired)
    groups: dict[str, ShiftStats | None] = {"unsafe": unsafe.pop("all")}
    groups.update({f"unsafe {k}": v for k, v in unsafe.items()})
    groups["safe"] = shift_stats(sets.tt_safe, sets.vl_safe, s, paired=paired)
    return groups


def _maps(
    sets: ActivationSets,
    layer: int,
    ref: Mapping[str, Map2D] | None,
    *,
    tsne: bool,
    seed: int,
    perplexity: float,
) -> dict[str, Map2D]:
    """PCA (in the reference's basis when given) and optionally t-SNE maps at `layer`."""
    basis = ref["pca"].basis if ref is not None else None
    maps = {"pca": pca_map(sets, layer, basis=basis)}
    if tsne:
        maps["tsne"] = tsne_map(sets, layer, seed=seed, perplexity=perplexity)
    return maps


def analyze_arrays(
    sets: SetsLike,
    out_dir: str | Path,
    layer: int | None = None,
    after: SetsLike | None = None,
    outcomes: object | None = None,
    *,
    s: object | None = None,
    paired: bool = False,
    after_outcomes: object | None = None,
    layers: list[int] | None = None,
    n_folds: int = 5,
    seed: int = 0,
    tsne: bool = True,
    perplexity: float = 30.0,
    progress: bool = True,
    context: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Probe, map and measure the shift on four [N, L, H] sets (and `after` ShiftDC); write
    PNG+JSON figures, analysis.json and analysis.md to out_dir; return analysis.json's content.

    `outcomes` is one bool per vl_unsafe input (True = attack succeeded); `after_outcomes`
    does the same for after.vl_unsafe and defaults to `outcomes` when the counts match.
    `s` defaults to the difference of text-only means; the same s is used for `after`.
    Pass paired=True when row i of vl_* and tt_* come from the same request: it enables
    per-input shifts and keeps text->vision probes off the requests they were trained on.
    `context` ({label: value}, e.g. model and data) is stored in meta and listed in analysis.md.
    """
    sets = as_sets(sets)
    after_sets = as_sets(after) if after is not None else None
    n_layers, hidden = sets.n_layers, sets.hidden
    if after_sets is not None and (after_sets.n_layers, after_sets.hidden) != (n_layers, hidden):
        raise ValueError(
            f"after sets are [*, {after_sets.n_layers}, {after_sets.hidden}] but the sets are "
            f"[*, {n_layers}, {hidden}]; collect both from the same model and layers"
        )
    if layer is not None:
        layer = check_layer(layer, n_layers)
        if layers is not None and layer not in layers:
            layers = [*layers, layer]
    if outcomes is not None:
        outcomes = check_outcomes(outcomes, len(sets.vl_unsafe))
    if after_sets is not None and after_outcomes is None and outcomes is not None:
        if len(after_sets.vl_unsafe) == len(outcomes):
            after_outcomes = outcomes
    direction = "given" if s is not None else "computed from the text-only sets"
    s = check_direction(
        s if s is not None else safety_direction(sets.tt_safe, sets.tt_unsafe), n_layers, hidden
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    kw = {"paired": paired, "n_folds": n_folds, "seed": seed, "progress": progress}
    probes: dict[str, ProbeResult] = {"before": probe_layers(sets, layers, **kw)}
    if after_sets is not None:
        probes["after"] = probe_layers(after_sets, layers, **kw)
    rule = "given"
    if layer is None:
        layer = probes["before"].best_layer()
        rule = "best text->text probe accuracy before ShiftDC; near-ties go to mid-depth"

    shifts = {"before": shift_groups(sets, s, outcomes, paired=paired)}
    maps = {"before": _maps(sets, layer, None, tsne=tsne, seed=seed, perplexity=perplexity)}
    if after_sets is not None:
        shifts["after"] = shift_groups(after_sets, s, after_outcomes, paired=paired)
        maps["after"] = _maps(
            after_sets, layer, maps["before"], tsne=tsne, seed=seed, perplexity=perplexity
        )
    a = after_sets is not None

    figures = {
        "probe_accuracy": plot_probe_accuracy(
            probes["before"], out / "probe_accuracy", after=probes.get("after"), layer=layer
        ),
        "probe_confusion": plot_confusion(
            probes["before"], layer, out / "probe_confusion", after=probes.get("after")
        ),
        "shift": plot_shift(shifts["before"], out / "shift", after=shifts.get("after")),
    }
    for method in maps["before"]:
        figures[f"map_{method}"] = plot_map(
            maps["before"][method],
            out / f"map_{method}",
            after=maps["after"][method] if a else None,
        )
    figures = {k: {t: Path(p).name for t, p in v.items()} for k, v in figures.items()}

    findings = {ph: key_numbers(probes[ph], shifts[ph], maps[ph], layer) for ph in probes}
    meta = {
        "counts": sets.counts(),
        "after_counts": after_sets.counts() if a else None,
        "n_layers": n_layers,
        "hidden": hidden,
        "paired": paired,
        "direction": direction,
        "n_folds": n_folds,
        "seed": seed,
        "layer": layer,
        "layer_rule": rule,
        "outcomes_given": outcomes is not None,
        "after_outcomes_given": after_outcomes is not None,
        "context": dict(context) if context else None,
    }
    result = {
        "meta": meta,
        "findings": {"before": findings["before"], "after": findings.get("after")},
        "probes": {ph: r.to_dict() for ph, r in probes.items()},
        "shift": {
            ph: {g: None if st is None else st.to_dict() for g, st in grp.items()}
            for ph, grp in shifts.items()
        },
        "maps": {ph: {k: m.to_dict() for k, m in mp.items()} for ph, mp in maps.items()},
        "figures": figures,
    }
    write_json(out / "analysis.json", result)
    (out / "analysis.md").write_text(render_markdown(result["findings"], meta, figures))
    return result
