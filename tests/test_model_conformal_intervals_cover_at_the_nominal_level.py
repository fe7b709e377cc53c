"""Split-conformal intervals from cross-fitted residuals cover new cases at the nominal level
(docs/model.md states the simulated coverage); the half-width is the finite-sample quantile."""

import math

import numpy as np
import pytest

from scoring.model.conformal import LEVEL, conformal_halfwidth, cross_fitted_residuals, interval
from scoring.model.heads import fit_head

REPETITIONS = 300


def simulated_coverage(*, n: int, level: float, seed: int) -> float:
    """Mean coverage of fresh cases over repeated studies: a linear score on four logit-like
    features plus noise, two images per patient sharing a patient effect, fitted as the platform does."""
    rng = np.random.default_rng(seed)
    beta = np.array([0.9, 0.4, -0.3, 0.2])
    covered = []
    for _ in range(REPETITIONS):
        X, y, groups = _study(rng, n, beta)
        kwargs = {"feature_set": "four_outputs", "ridge_alpha": None, "clamp": {"s": None}}
        residuals = cross_fitted_residuals(X, {"s": y}, groups, **kwargs)["s"]
        width = conformal_halfwidth(residuals, level=level)
        head = fit_head(X, {"s": y}, **kwargs)
        X_new, y_new, _ = _study(rng, 200, beta)
        covered.append(np.mean(np.abs(y_new - head.predict(X_new)["s"]) <= width))
    return float(np.mean(covered))


def _study(rng, n, beta):
    patients = rng.normal(0, 0.5, n // 2).repeat(2)
    X = rng.normal(0, 1, (n, 4))
    y = 3 + X @ beta + patients + rng.normal(0, 1, n)
    return X, y, [str(i // 2) for i in range(n)]


@pytest.mark.parametrize("n", [60, 200])
def test_coverage_of_new_cases_is_within_two_points_of_nominal(n):
    coverage = simulated_coverage(n=n, level=LEVEL, seed=n)
    assert abs(coverage - LEVEL) <= 0.02, coverage


def test_the_half_width_is_the_finite_sample_conformal_quantile():
    residuals = np.arange(1, 20, dtype=float)  # n = 19: rank ceil(20 * 0.9) = 18
    assert conformal_halfwidth(residuals, level=0.9) == 18.0
    assert conformal_halfwidth(-residuals, level=0.9) == 18.0  # absolute residuals
    assert conformal_halfwidth(residuals[:8], level=0.9) is None  # ceil(9 * 0.9) = 9 > 8: no finite interval
    assert math.ceil((len(residuals) + 1) * 0.9) == 18


def test_intervals_are_cut_to_the_score_range():
    assert interval(7.5, 1.0, (0.0, 8.0)) == [6.5, 8.0]
    assert interval(0.2, 1.0, (0.0, 8.0)) == [0.0, 1.2]
    assert interval(3.0, 1.0, None) == [2.0, 4.0]
