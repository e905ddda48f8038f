"""2-D maps (PCA, t-SNE) of the four sets at one layer, with the text-only boundary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE

from .sets import SAFE, SET_NAMES, UNSAFE, ActivationSets, as_sets, check_layer

TSNE_PCA_DIMS = 50


@dataclass(frozen=True)
class PcaBasis:
    """A fitted 2-D PCA: x -> ((x - mean) / scale - center) @ components.T."""

    mean: np.ndarray
    scale: np.ndarray
    center: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Project [N, H] activations onto the two components."""
        return ((x - self.mean) / self.scale - self.center) @ self.components.T


@dataclass
class Map2D:
    """The four sets as 2-D points, and the line w.x + b = 0 fit on the text-only points.

    Points with w.x + b < 0 are on the text-only 'safe' side.
    """

    method: str
    layer: int
    points: dict[str, np.ndarray]
    w: np.ndarray
    b: float
    basis: PcaBasis | None = None

    def safe_side(self, name: str) -> np.ndarray:
        """Boolean per point of set `name`: on the text-only safe side of the line."""
        return self.points[name] @ self.w + self.b < 0

    def fraction_safe_side(self) -> dict[str, float]:
        """Fraction of each set on the text-only safe side."""
        return {n: float(self.safe_side(n).mean()) for n in SET_NAMES}

    def text_accuracy(self) -> float:
        """Accuracy of the 2-D line on the text-only points it was fit on."""
        right = np.concatenate([self.safe_side("tt_safe"), ~self.safe_side("tt_unsafe")])
        return float(right.mean())

    def to_dict(self) -> dict[str, object]:
        """JSON-ready numbers, including every plotted point."""
        out: dict[str, object] = {
            "method": self.method,
            "layer": self.layer,
            "boundary": {"w": self.w.tolist(), "b": self.b, "safe_side": "w.x + b < 0"},
            "text_boundary_accuracy": self.text_accuracy(),
            "fraction_on_safe_side": self.fraction_safe_side(),
            "points": {n: p.tolist() for n, p in self.points.items()},
        }
        if self.basis is not None:
            out["explained_variance_ratio"] = self.basis.explained_variance_ratio.tolist()
        return out


def _layer_points(sets: ActivationSets, layer: int) -> tuple[np.ndarray, list[int]]:
    """All four sets at one layer stacked [N, H], with the set sizes in SET_NAMES order."""
    parts = [sets.get(n)[:, layer] for n in SET_NAMES]
    return np.concatenate(parts), [len(p) for p in parts]


def _split(xy: np.ndarray, sizes: list[int]) -> dict[str, np.ndarray]:
    """Cut stacked 2-D points back into the four sets."""
    cuts = np.cumsum(sizes)[:-1]
    return dict(zip(SET_NAMES, np.split(xy, cuts), strict=True))


def _standardise(x: np.ndarray, standardize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and scale (scale 1 where constant, or everywhere if not standardising)."""
    mean = x.mean(0)
    scale = x.std(0) if standardize else np.ones(x.shape[1])
    return mean, np.where(scale > 0, scale, 1.0)


def text_boundary(points: Mapping[str, np.ndarray]) -> tuple[np.ndarray, float]:
    """Fit logistic regression on the 2-D text-only points; return (w, b), unsafe where w.x+b>0."""
    x = np.concatenate([points["tt_safe"], points["tt_unsafe"]])
    y = np.concatenate(
        [np.full(len(points["tt_safe"]), SAFE), np.full(len(points["tt_unsafe"]), UNSAFE)]
    )
    clf = LogisticRegression(max_iter=5000).fit(x, y)
    return clf.coef_[0].astype(np.float64), float(clf.intercept_[0])


def fit_pca_basis(x: np.ndarray, *, standardize: bool = True) -> PcaBasis:
    """Fit a 2-component PCA on [N, H] points (standardised per feature by default)."""
    if x.shape[1] < 2 or len(x) < 2:
        raise ValueError(f"a 2-D PCA needs at least 2 samples and 2 features; got {x.shape}")
    mean, scale = _standardise(x, standardize)
    pca = PCA(n_components=2, svd_solver="full").fit((x - mean) / scale)
    return PcaBasis(mean, scale, pca.mean_, pca.components_, pca.explained_variance_ratio_)


def pca_map(
    sets: ActivationSets | Mapping[str, object],
    layer: int,
    *,
    basis: PcaBasis | None = None,
    standardize: bool = True,
) -> Map2D:
    """PCA map at `layer`; pass `basis` (e.g. a 'before' map's) to draw in the same axes."""
    sets = as_sets(sets)
    layer = check_layer(layer, sets.n_layers)
    x, sizes = _layer_points(sets, layer)
    if basis is None:
        basis = fit_pca_basis(x, standardize=standardize)
    points = _split(basis.transform(x), sizes)
    w, b = text_boundary(points)
    return Map2D("pca", layer, points, w, b, basis)


def tsne_map(
    sets: ActivationSets | Mapping[str, object],
    layer: int,
    *,
    seed: int = 0,
    perplexity: float = 30.0,
    max_iter: int = 1000,
    standardize: bool = True,
) -> Map2D:
    """t-SNE map at `layer` (seeded; perplexity clipped below the sample count)."""
    sets = as_sets(sets)
    layer = check_layer(layer, sets.n_layers)
    x, sizes = _layer_points(sets, layer)
    n = len(x)
    if n < 4:
        raise ValueError(f"t-SNE needs at least 4 points in all; got {n}")
    mean, scale = _standardise(x, standardize)
    x = (x - mean) / scale
    dims = min(TSNE_PCA_DIMS, n, x.shape[1])
    if x.shape[1] > dims:
        x = PCA(n_components=dims, random_state=seed).fit_transform(x)
    perp = float(min(perplexity, max(1.0, (n - 1) / 3)))
    emb = TSNE(
        n_components=2,
        perplexity=perp,
        init="pca",
        learning_rate="auto",
        max_iter=max_iter,
        random_state=seed,
    ).fit_transform(x)
    points = _split(emb.astype(np.float64), sizes)
    w, b = text_boundary(points)
    return Map2D("tsne", layer, points, w, b)
