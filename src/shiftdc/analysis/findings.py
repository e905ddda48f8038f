"""Key numbers of an analysis and the analysis.md that states them."""

from __future__ import annotations

from collections.abc import Mapping

from .maps import Map2D
from .probes import TEXT_TEXT, TEXT_VISION, VISION_VISION, ProbeResult
from .shift import ShiftStats


def _shift_numbers(stats: ShiftStats | None, layer: int) -> dict[str, object] | None:
    """Mean cos over layers, and cos / norms / component at `layer`, for one group."""
    if stats is None:
        return None
    out: dict[str, object] = {
        "n": stats.n,
        "mean_cos_over_layers": float(stats.cos.mean()),
        "cos_at_layer": float(stats.cos[layer]),
        "norm_at_layer": float(stats.norm[layer]),
        "safety_norm_at_layer": float(stats.safety_norm[layer]),
        "component_at_layer": float(stats.component[layer]),
    }
    if stats.per_input_cos is not None:
        out["per_input_mean_cos_at_layer"] = float(stats.per_input_cos[:, layer].mean())
    return out


def key_numbers(
    probes: ProbeResult,
    shifts: Mapping[str, ShiftStats | None],
    maps: Mapping[str, Map2D],
    layer: int,
) -> dict[str, object]:
    """The headline numbers of one phase (before or after) at the chosen layer."""
    at = probes.at(layer)
    best = probes.best_layer(TEXT_TEXT)
    return {
        "layer": layer,
        "best_text_text_layer": best,
        "best_text_text_accuracy": float(probes.accuracy[TEXT_TEXT][probes.index(best)]),
        "text_text_accuracy": at["accuracy"][TEXT_TEXT],
        "vision_vision_accuracy": at["accuracy"][VISION_VISION],
        "text_vision_accuracy": at["accuracy"][TEXT_VISION],
        "unsafe_vl_classified_safe": at["unsafe_vl_classified_safe"],
        "safe_vl_classified_unsafe": at["safe_vl_classified_unsafe"],
        "shift": {g: _shift_numbers(s, layer) for g, s in shifts.items()},
        "maps": {
            k: {
                "text_boundary_accuracy": m.text_accuracy(),
                "unsafe_vl_on_safe_side": m.fraction_safe_side()["vl_unsafe"],
                "safe_vl_on_safe_side": m.fraction_safe_side()["vl_safe"],
            }
            for k, m in maps.items()
        },
    }


def _f(x: object) -> str:
    """Format a number for the report."""
    if x is None:
        return "n/a"
    if isinstance(x, float):
        text = f"{x:.2f}"
        return "0.00" if text == "-0.00" else text
    return str(x)


def _phase_lines(k: Mapping[str, object], tag: str) -> list[str]:
    """Bullet lines stating one phase's numbers."""
    layer = k["layer"]
    lines = [
        f"- {tag}best text->text probe accuracy: {_f(k['best_text_text_accuracy'])} "
        f"(layer {k['best_text_text_layer']}).",
        f"- {tag}at layer {layer}: text->text probe accuracy {_f(k['text_text_accuracy'])}; "
        f"vision->vision {_f(k['vision_vision_accuracy'])}; "
        f"text->vision {_f(k['text_vision_accuracy'])}.",
        f"- {tag}fraction of unsafe vision inputs classified safe by the text-only probe at "
        f"layer {layer}: {_f(k['unsafe_vl_classified_safe'])} (safe vision inputs classified "
        f"unsafe: {_f(k['safe_vl_classified_unsafe'])}).",
    ]
    for group, g in k["shift"].items():
        if g is None:
            lines.append(f"- {tag}shift of '{group}' inputs: no inputs in this group.")
            continue
        line = (
            f"- {tag}shift of '{group}' inputs (n={g['n']}): mean cos(s, m) over layers "
            f"{_f(g['mean_cos_over_layers'])}; at layer {layer}: cos {_f(g['cos_at_layer'])}, "
            f"||m|| {_f(g['norm_at_layer'])}, ||proj_s m|| {_f(g['safety_norm_at_layer'])}"
        )
        if "per_input_mean_cos_at_layer" in g:
            line += f", mean per-input cos(s, m_i) {_f(g['per_input_mean_cos_at_layer'])}"
        lines.append(line + ".")
    for method, mk in k["maps"].items():
        lines.append(
            f"- {tag}{method.upper()} map at layer {layer}: the 2-D text-only boundary separates "
            f"text with accuracy {_f(mk['text_boundary_accuracy'])}; unsafe vision inputs on its "
            f"safe side: {_f(mk['unsafe_vl_on_safe_side'])}."
        )
    return lines


def _compare_table(findings: Mapping[str, object]) -> list[str]:
    """A markdown table of the headline numbers before and after ShiftDC."""
    b, a = findings["before"], findings["after"]
    layer = b["layer"]
    rows = [
        (f"text->text accuracy (layer {layer})", "text_text_accuracy"),
        (f"text->vision accuracy (layer {layer})", "text_vision_accuracy"),
        (f"unsafe VL classified safe (layer {layer})", "unsafe_vl_classified_safe"),
    ]
    out = ["| number | before | after |", "| --- | --- | --- |"]
    out += [f"| {label} | {_f(b[key])} | {_f(a[key])} |" for label, key in rows]
    for group in b["shift"]:
        gb, ga = b["shift"][group], a["shift"].get(group)
        for label, key in (
            ("mean cos(s, m) over layers", "mean_cos_over_layers"),
            (f"norm of proj_s m at layer {layer}", "safety_norm_at_layer"),
        ):
            vb = None if gb is None else gb[key]
            va = None if ga is None else ga[key]
            out.append(f"| {label}, '{group}' | {_f(vb)} | {_f(va)} |")
    return out


def _context_lines(context: Mapping[str, object] | None) -> list[str]:
    """A 'Setup' list of the context entries (empty without context)."""
    if not context:
        return []
    return ["## Setup", "", *(f"- {k}: {v}" for k, v in context.items()), ""]


def render_markdown(
    findings: Mapping[str, object], meta: Mapping[str, object], figures: Mapping[str, object]
) -> str:
    """analysis.md: the findings of each phase, stated in numbers, and the figure list."""
    lines = [
        "# Safety perception distortion: analysis",
        "",
        *_context_lines(meta.get("context")),
        f"Inputs: {', '.join(f'{k}={v}' for k, v in meta['counts'].items())} over "
        f"{meta['n_layers']} layers, hidden size {meta['hidden']}; "
        f"paired: {meta['paired']}. Safety direction s = mean(text safe) - mean(text unsafe) "
        f"({meta['direction']}); positive components point towards 'safe'.",
        f"Probes: standardised logistic regression, {meta['n_folds']}-fold stratified CV "
        f"(seed {meta['seed']}) for text->text and vision->vision; "
        + (
            "text->vision tests each fold's text probe on the vision-language versions of its "
            "held-out requests."
            if meta["paired"]
            else "text->vision fits on all text-only inputs and tests on all vision-language "
            "inputs."
        ),
        f"Chosen layer: {meta['layer']} ({meta['layer_rule']}).",
        "",
        "## Before ShiftDC",
        "",
        *_phase_lines(findings["before"], ""),
    ]
    if findings.get("after") is not None:
        lines += ["", "## After ShiftDC", "", *_phase_lines(findings["after"], "after: ")]
        lines += ["", "## Before vs after", "", *_compare_table(findings)]
    lines += ["", "## Figures", ""]
    lines += [
        f"- {name}: {paths['png']} (numbers: {paths['json']})" for name, paths in figures.items()
    ]
    return "\n".join(lines) + "\n"
