"""Per-layer linear probes: does a text-only safety probe transfer to vision-language inputs?"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from .sets import SAFE, SET_NAMES, UNSAFE, ActivationSets, as_sets, check_layer, check_layers

TEXT_TEXT = "text->text"
VISION_VISION = "vision->vision"
TEXT_VISION = "text->vision"
SETTINGS: tuple[str, ...] = (TEXT_TEXT, VISION_VISION, TEXT_VISION)
BEST_LAYER_TOLERANCE = 0.01


def fit_probe(x: np.ndarray, y: np.ndarray, *, C: float = 1.0, seed: int = 0) -> Pipeline:
    """Fit a standardised logistic-regression probe on x [N, H] with labels y (0 safe, 1 unsafe)."""
    probe = make_pipeline(
        StandardScaler(), LogisticRegression(C=C, max_iter=5000, random_state=seed)
    )
    return probe.fit(x, y)


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """2x2 counts: rows true (safe, unsafe), columns predicted (safe, unsafe)."""
    return confusion_matrix(y_true, y_pred, labels=[SAFE, UNSAFE])


def unsafe_classified_safe(cm: np.ndarray) -> float:
    """Fraction of truly unsafe samples predicted safe, from a 2x2 confusion matrix."""
    total = cm[UNSAFE].sum()
    return float(cm[UNSAFE, SAFE] / total) if total else 0.0


def safe_classified_unsafe(cm: np.ndarray) -> float:
    """Fraction of truly safe samples predicted unsafe, from a 2x2 confusion matrix."""
    total = cm[SAFE].sum()
    return float(cm[SAFE, UNSAFE] / total) if total else 0.0


def check_probe_counts(counts: Mapping[str, int], n_folds: int) -> None:
    """Raise if any set is too small for a stratified `n_folds`-fold probe."""
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2; got {n_folds}")
    short = {n: c for n, c in counts.items() if c < n_folds}
    if short:
        got = ", ".join(f"{n}={c}" for n, c in short.items())
        raise ValueError(
            f"too few samples for a {n_folds}-fold probe: each of {', '.join(counts)} needs at "
            f"least {n_folds} samples (one per fold per class); got {got}. Collect more, or "
            f"lower n_folds (the smallest, 2, needs at least 2 per set)"
        )


def check_paired(counts: Mapping[str, int]) -> None:
    """Raise unless each vision-language set has as many rows as its text-only twin."""
    for kind in ("safe", "unsafe"):
        tt, vl = counts[f"tt_{kind}"], counts[f"vl_{kind}"]
        if tt != vl:
            raise ValueError(
                f"paired sets need row i of vl_{kind} and tt_{kind} from the same request, so "
                f"equal counts; got tt_{kind}={tt}, vl_{kind}={vl}. Pass paired=False otherwise"
            )


def _folds(y: np.ndarray, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded stratified k-fold (train, test) index pairs."""
    split = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(split.split(np.zeros((len(y), 1)), y))


def cross_val_predict_probe(
    x: np.ndarray,
    y: np.ndarray,
    *,
    n_folds: int = 5,
    seed: int = 0,
    C: float = 1.0,
    x_other: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Out-of-fold predictions on x [N, H] under seeded stratified k-fold; with x_other
    (row i paired with x[i]) also the same fold's probe's predictions on x_other's held-out rows."""
    pred = np.empty_like(y)
    other = None if x_other is None else np.empty_like(y)
    for train, test in _folds(y, n_folds, seed):
        probe = fit_probe(x[train], y[train], C=C, seed=seed)
        pred[test] = probe.predict(x[test])
        if other is not None:
            other[test] = probe.predict(x_other[test])
    return pred, other


@dataclass
class ProbeResult:
    """Per-layer probe accuracies and confusion matrices for the three settings."""

    layers: list[int]
    n_layers: int
    accuracy: dict[str, np.ndarray]
    confusion: dict[str, np.ndarray]
    n_folds: int
    seed: int
    paired: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    def index(self, layer: int) -> int:
        """Position of `layer` in self.layers."""
        idx = check_layer(layer, self.n_layers)
        if idx not in self.layers:
            raise ValueError(f"layer {idx} was not probed; probed layers are {self.layers}")
        return self.layers.index(idx)

    @property
    def unsafe_vl_classified_safe(self) -> np.ndarray:
        """Per layer: fraction of unsafe VL inputs the text-only probe calls safe."""
        return np.array([unsafe_classified_safe(cm) for cm in self.confusion[TEXT_VISION]])

    @property
    def safe_vl_classified_unsafe(self) -> np.ndarray:
        """Per layer: fraction of safe VL inputs the text-only probe calls unsafe."""
        return np.array([safe_classified_unsafe(cm) for cm in self.confusion[TEXT_VISION]])

    def best_layer(self, setting: str = TEXT_TEXT) -> int:
        """Layer with the best accuracy; near-ties (within 0.01) go to the one nearest mid-depth."""
        acc = self.accuracy[setting]
        near = [
            lay
            for lay, a in zip(self.layers, acc, strict=True)
            if a >= acc.max() - 1e-12 - BEST_LAYER_TOLERANCE
        ]
        middle = (self.n_layers - 1) / 2
        return min(near, key=lambda lay: (abs(lay - middle), lay))

    def at(self, layer: int) -> dict[str, object]:
        """All numbers at one layer, as plain Python values."""
        i = self.index(layer)
        return {
            "layer": self.layers[i],
            "accuracy": {s: float(self.accuracy[s][i]) for s in SETTINGS},
            "confusion": {s: self.confusion[s][i].tolist() for s in SETTINGS},
            "unsafe_vl_classified_safe": float(self.unsafe_vl_classified_safe[i]),
            "safe_vl_classified_unsafe": float(self.safe_vl_classified_unsafe[i]),
        }

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary of every number."""
        return {
            "layers": list(self.layers),
            "n_layers": self.n_layers,
            "n_folds": self.n_folds,
            "seed": self.seed,
            "paired": self.paired,
            "counts": dict(self.counts),
            "accuracy": {s: self.accuracy[s].tolist() for s in SETTINGS},
            "confusion": {s: self.confusion[s].tolist() for s in SETTINGS},
            "unsafe_vl_classified_safe": self.unsafe_vl_classified_safe.tolist(),
            "safe_vl_classified_unsafe": self.safe_vl_classified_unsafe.tolist(),
            "best_layer_text_text": self.best_layer(TEXT_TEXT),
        }


def probe_layers(
    sets: ActivationSets | Mapping[str, object],
    layers: list[int] | None = None,
    *,
    paired: bool = False,
    n_folds: int = 5,
    seed: int = 0,
    C: float = 1.0,
    progress: bool = False,
) -> ProbeResult:
    """Probe each layer: text->text and vision->vision by seeded stratified k-fold.

    text->vision: unpaired, a probe fit on all text-only inputs is tested on all
    vision-language inputs; paired (vl[i] and tt[i] from the same request), each fold's
    text probe is tested on the vision-language versions of its held-out requests only.
    """
    sets = as_sets(sets)
    layers = check_layers(layers, sets.n_layers)
    counts = sets.counts()
    check_probe_counts(counts, n_folds)
    if paired:
        check_paired(counts)
    x_tt, y_tt = sets.tt()
    x_vl, y_vl = sets.vl()
    acc: dict[str, list[float]] = {s: [] for s in SETTINGS}
    cms: dict[str, list[np.ndarray]] = {s: [] for s in SETTINGS}
    for layer in tqdm(layers, desc="probes", disable=not progress):
        kw = {"n_folds": n_folds, "seed": seed, "C": C}
        tt_pred, tv_pred = cross_val_predict_probe(
            x_tt[:, layer], y_tt, x_other=x_vl[:, layer] if paired else None, **kw
        )
        if tv_pred is None:
            tv_pred = fit_probe(x_tt[:, layer], y_tt, C=C, seed=seed).predict(x_vl[:, layer])
        vv_pred, _ = cross_val_predict_probe(x_vl[:, layer], y_vl, **kw)
        preds = {
            TEXT_TEXT: (y_tt, tt_pred),
            VISION_VISION: (y_vl, vv_pred),
            TEXT_VISION: (y_vl, tv_pred),
        }
        for setting, (truth, pred) in preds.items():
            acc[setting].append(float((truth == pred).mean()))
            cms[setting].append(confusion(truth, pred))
    return ProbeResult(
        layers=layers,
        n_layers=sets.n_layers,
        accuracy={s: np.array(v) for s, v in acc.items()},
        confusion={s: np.stack(v) for s, v in cms.items()},
        n_folds=n_folds,
        seed=seed,
        paired=paired,
        counts={n: counts[n] for n in SET_NAMES},
    )
