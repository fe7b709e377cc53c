"""The BCa bootstrap interval (jackknife acceleration) equals SciPy's on the same resamples."""

import numpy as np
import pytest
from scipy import stats

from scoring.agreement import agreement_summary, bootstrap_ci, krippendorff_alpha, weighted_kappa_pairs

NAMES = ["alice", "bob", "charlie"]
DOMAIN = list(range(9))


def ratings(seed: int = 0, cases: int = 60) -> np.ndarray:
    rng = np.random.default_rng(seed)
    severity = rng.integers(0, 9, cases)
    values = np.clip(severity[:, None] + rng.integers(-2, 3, (cases, 3)), 0, 8).astype(float)
    values[rng.random(values.shape) < 0.1] = np.nan
    values[:, 0][np.isnan(values).all(axis=1)] = 4.0  # no empty case: the summary would drop it
    return values


def scipy_bca(matrix: np.ndarray, statistic, n_boot: int, seed: int) -> list[float]:
    # SciPy draws integers(0, n, (n_boot, n)) from default_rng(seed): the same resamples as ours.
    result = stats.bootstrap(
        (np.arange(matrix.shape[0]),),
        lambda rows: statistic(matrix[rows.astype(int)]),
        vectorized=False,
        n_resamples=n_boot,
        method="BCa",
        rng=np.random.default_rng(seed),
    )
    return [result.confidence_interval.low, result.confidence_interval.high]


def interval_alpha(matrix):
    return krippendorff_alpha(matrix, level="interval", domain=None)


def test_bca_equals_scipy_for_alpha():
    m = ratings(1)
    ours = bootstrap_ci(m, interval_alpha, n_boot=300, seed=5, method="bca")
    assert ours == pytest.approx(scipy_bca(m, interval_alpha, 300, 5), abs=1e-3)


def test_bca_equals_scipy_for_a_skewed_mean():
    sample = np.random.default_rng(2).exponential(size=(40, 1))

    def mean(matrix):
        return float(matrix.mean())

    ours = bootstrap_ci(sample, mean, n_boot=500, seed=9, method="bca")
    assert ours == pytest.approx(scipy_bca(sample, mean, 500, 9), abs=1e-3)
    # The skew moves the BCa interval right of the percentile one.
    percentile = bootstrap_ci(sample, mean, n_boot=500, seed=9)
    assert ours[0] > percentile[0] and ours[1] > percentile[1]


def test_the_summary_gives_bca_next_to_percentile_and_equal_to_scipy():
    m = ratings(3)
    summary = agreement_summary(m, NAMES, domain=DOMAIN, categorical=True, n_boot=200, seed=4)
    alpha = summary["krippendorff_alpha"]["ordinal"]
    assert set(alpha) >= {"ci95", "ci95_bca"}

    def ordinal(matrix):
        return krippendorff_alpha(matrix, level="ordinal", domain=DOMAIN)

    def kappa(matrix):
        return weighted_kappa_pairs(matrix, NAMES, domain=DOMAIN)["mean"]

    assert alpha["ci95_bca"] == pytest.approx(scipy_bca(m, ordinal, 200, 4), abs=1e-3)
    assert summary["weighted_kappa"]["ci95_bca"] == pytest.approx(scipy_bca(m, kappa, 200, 4), abs=1e-3)


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method"):
        bootstrap_ci(ratings(), interval_alpha, n_boot=10, method="studentized")
