"""Linear heads on the backbone outputs: feature sets, fitting, prediction, the paper's head."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

FEATURE_SETS = ("lung_opacity", "four_outputs", "all_outputs", "features_1024", "pooled_features", "none")
# Feature sets on the pooled features rather than the logits: `features_1024` is the DenseNets' 1024
# (refused for other widths, so that its name never lies), `pooled_features` whatever the backbone
# gives (2048 for the ResNet).
POOLED_SETS = ("features_1024", "pooled_features")
# The paper's order (xray_covid_eval.ipynb): Lung Opacity, Pneumonia, Infiltration, Consolidation.
FOUR_OUTPUTS = ("Lung Opacity", "Pneumonia", "Infiltration", "Consolidation")
TARGETS = ("geographic_extent", "opacity")
# The published head is on the Lung Opacity logit of these weights, whatever weights are configured.
PAPER_WEIGHTS = "densenet121-res224-all"
PAPER_CLAMP: dict[str, tuple[float, float]] = {"geographic_extent": (0.0, 8.0), "opacity": (0.0, 6.0)}

Clamp = Mapping[str, tuple[float, float] | None]


def select_features(feature_set: str, logits: np.ndarray, pooled: np.ndarray, pathologies: Sequence[str]) -> np.ndarray:
    """The N x k design matrix of a feature set (k = 0 for `none`)."""
    if feature_set in POOLED_SETS:
        pooled = np.asarray(pooled, dtype=np.float64)
        if feature_set == "features_1024" and pooled.shape[1] != 1024:
            raise ValueError(
                f"features_1024 needs a backbone with 1024 pooled features, these weights give "
                f"{pooled.shape[1]}: choose pooled_features"
            )
        return pooled
    columns = logit_columns(feature_set, pathologies)
    return np.asarray(logits, dtype=np.float64)[:, columns]


def logit_columns(feature_set: str, pathologies: Sequence[str]) -> list[int]:
    """Indices into the 18 logits used by a logit-based feature set. Outputs that the weights never
    learned (named "" by torchxrayvision, e.g. 4 of the NIH DenseNet's 18) are never used."""
    names = list(pathologies)
    if feature_set == "lung_opacity":
        return _named(names, ("Lung Opacity",), feature_set)
    if feature_set == "four_outputs":
        return _named(names, FOUR_OUTPUTS, feature_set)
    if feature_set == "all_outputs":
        return [i for i, name in enumerate(names) if name]
    if feature_set == "none":
        return []
    raise ValueError(f"unknown feature set {feature_set!r}; choose one of {', '.join(FEATURE_SETS)}")


def _named(names: list[str], wanted: Sequence[str], feature_set: str) -> list[int]:
    absent = [name for name in wanted if name not in names]
    if absent:
        raise ValueError(
            f"feature set {feature_set} needs the output(s) {', '.join(absent)}, which these weights "
            "do not have: choose all_outputs, pooled_features or other weights"
        )
    return [names.index(name) for name in wanted]


@dataclass(frozen=True)
class LinearHead:
    """prediction[target] = clamp(X @ coefficients[target] + intercept[target])."""

    feature_set: str
    coefficients: dict[str, list[float]]
    intercept: dict[str, float]
    clamp: dict[str, tuple[float, float] | None]

    def __post_init__(self) -> None:
        if self.feature_set not in FEATURE_SETS:
            raise ValueError(f"unknown feature set {self.feature_set!r}")
        if not (set(self.coefficients) == set(self.intercept) == set(self.clamp)):
            raise ValueError("coefficients, intercept and clamp must name the same targets")
        for target, bounds in self.clamp.items():
            if bounds is not None and not bounds[0] <= bounds[1]:
                raise ValueError(f"clamp for {target!r} must be (low, high) with low <= high")

    @property
    def targets(self) -> list[str]:
        return list(self.coefficients)

    def predict_unclamped(self, X: np.ndarray) -> dict[str, np.ndarray]:
        X = np.asarray(X, dtype=np.float64)
        out = {}
        for target, coef in self.coefficients.items():
            if X.ndim != 2 or X.shape[1] != len(coef):
                raise ValueError(f"{target}: expected N x {len(coef)} features, got {X.shape}")
            out[target] = X @ np.asarray(coef, dtype=np.float64) + self.intercept[target]
        return out

    def predict(self, X: np.ndarray) -> dict[str, np.ndarray]:
        out = self.predict_unclamped(X)
        for target, bounds in self.clamp.items():
            if bounds is not None:
                out[target] = np.clip(out[target], *bounds)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, for a JSONField."""
        return {
            "feature_set": self.feature_set,
            "coefficients": {t: [float(c) for c in coef] for t, coef in self.coefficients.items()},
            "intercept": {t: float(b) for t, b in self.intercept.items()},
            "clamp": {t: None if c is None else [float(c[0]), float(c[1])] for t, c in self.clamp.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinearHead:
        return cls(
            feature_set=data["feature_set"],
            coefficients={t: [float(c) for c in coef] for t, coef in data["coefficients"].items()},
            intercept={t: float(b) for t, b in data["intercept"].items()},
            clamp={t: None if c is None else (float(c[0]), float(c[1])) for t, c in data["clamp"].items()},
        )


def paper_head() -> LinearHead:
    """Version 1: the published head on the Lung Opacity logit (Cohen et al. 2020)."""
    return LinearHead(
        feature_set="lung_opacity",
        coefficients={"geographic_extent": [0.8705248236656189], "opacity": [0.5484423041343689]},
        intercept={"geographic_extent": 3.4137437, "opacity": 2.5535977},
        clamp=dict(PAPER_CLAMP),
    )


def fit_head(
    X: np.ndarray,
    Y: Mapping[str, np.ndarray],
    *,
    feature_set: str,
    ridge_alpha: float | None,
    clamp: Clamp,
) -> LinearHead:
    """Ordinary least squares per target (ridge when ridge_alpha is given); `none` fits the mean."""
    from sklearn.linear_model import LinearRegression, Ridge

    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; choose one of {', '.join(FEATURE_SETS)}")
    X = np.asarray(X, dtype=np.float64)
    coefficients, intercept = {}, {}
    for target, y in Y.items():
        y = np.asarray(y, dtype=np.float64)
        if len(y) != len(X) or len(y) == 0:
            raise ValueError(f"{target}: {len(y)} targets for {len(X)} cases")
        if feature_set == "none":
            coefficients[target], intercept[target] = [], float(y.mean())
            continue
        model = LinearRegression() if ridge_alpha is None else Ridge(alpha=ridge_alpha)
        model.fit(X, y)
        coefficients[target], intercept[target] = model.coef_.tolist(), float(model.intercept_)
    return LinearHead(
        feature_set=feature_set,
        coefficients=coefficients,
        intercept=intercept,
        clamp={target: clamp.get(target) for target in Y},
    )
