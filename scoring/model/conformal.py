"""Split-conformal prediction intervals from cross-fitted residuals. No ORM, no torch.

Each training case is predicted by a head fitted without its group (grouped K-fold), and the
interval half-width is the ceil((n + 1) * level)-th smallest absolute residual: under
exchangeability a new case's score lies in prediction +- half-width with probability >= level
(Vovk et al. 2005; Lei et al. 2018). The deployed head is fitted on all n cases, not on
(K-1)/K of them, so its errors are slightly smaller and coverage errs on the safe side; the
simulation in tests/test_model_conformal_intervals_cover_at_the_nominal_level.py measures it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from scoring.model.evaluate import group_codes
from scoring.model.heads import Clamp, fit_head

LEVEL = 0.9
FOLDS = 10


def cross_fitted_residuals(
    X: np.ndarray,
    Y: Mapping[str, np.ndarray],
    groups: Sequence[str | int | None],
    *,
    feature_set: str,
    ridge_alpha: float | None,
    clamp: Clamp,
    folds: int = FOLDS,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """y - prediction of a head fitted on the other folds, per target; whole groups per fold."""
    X = np.asarray(X, dtype=np.float64)
    codes = group_codes(groups)
    unique = np.unique(codes)
    k = min(folds, len(unique))
    if k < 2:
        raise ValueError("cross-fitting needs at least two groups")
    fold_of_group = dict(zip(np.random.default_rng(seed).permutation(unique), np.arange(len(unique)) % k, strict=True))
    fold = np.array([fold_of_group[c] for c in codes])
    residuals = {t: np.empty(len(codes)) for t in Y}
    for f in range(k):
        test, train = fold == f, fold != f
        head = fit_head(
            X[train], {t: np.asarray(y)[train] for t, y in Y.items()}, feature_set=feature_set,
            ridge_alpha=ridge_alpha, clamp=clamp,
        )  # fmt: skip
        predicted = head.predict(X[test])
        for t, y in Y.items():
            residuals[t][test] = np.asarray(y, dtype=np.float64)[test] - predicted[t]
    return residuals


def conformal_halfwidth(residuals: np.ndarray, *, level: float = LEVEL) -> float | None:
    """The split-conformal half-width; None when there are too few cases for this level."""
    n = len(residuals)
    rank = math.ceil((n + 1) * level)
    if rank > n:
        return None
    return float(np.sort(np.abs(residuals))[rank - 1])


def interval(prediction: float, halfwidth: float, bounds: tuple[float, float] | None) -> list[float]:
    """[low, high] around a prediction, cut to the score's range (a score outside it cannot occur)."""
    low, high = prediction - halfwidth, prediction + halfwidth
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return [round(low, 4), round(high, 4)]
