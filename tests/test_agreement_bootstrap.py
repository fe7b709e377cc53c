"""Bootstrap CIs resample cases, are seeded and reproducible, and cover the estimate."""

import numpy as np
import pytest

from scoring.agreement import LEVELS, agreement_summary, bootstrap_ci, krippendorff_alpha, weighted_kappa_pairs

NAMES = ["alice", "bob", "charlie"]
DOMAIN = list(range(9))


def ratings(seed: int = 0, cases: int = 150) -> np.ndarray:
    rng = np.random.default_rng(seed)
    severity = rng.integers(0, 9, cases)
    values = np.clip(severity[:, None] + rng.integers(-1, 2, (cases, 3)), 0, 8).astype(float)
    values[rng.random(values.shape) < 0.1] = np.nan
    return values


def interval_alpha(matrix: np.ndarray):
    return krippendorff_alpha(matrix, level="interval", domain=None)


def test_bootstrap_is_reproducible_with_the_same_seed():
    assert bootstrap_ci(ratings(), interval_alpha, n_boot=100, seed=3) == bootstrap_ci(
        ratings(), interval_alpha, n_boot=100, seed=3
    )


def test_bootstrap_differs_with_another_seed():
    assert bootstrap_ci(ratings(), interval_alpha, n_boot=100, seed=3) != bootstrap_ci(
        ratings(), interval_alpha, n_boot=100, seed=4
    )


def test_bootstrap_interval_contains_the_point_estimate():
    low, high = bootstrap_ci(ratings(), interval_alpha, n_boot=200)
    assert low < interval_alpha(ratings()) < high


def test_bootstrap_ignores_undefined_replicates():
    calls = iter(range(10))

    def sometimes_undefined(matrix):
        i = next(calls)
        return None if i % 2 else float(i)

    assert bootstrap_ci(ratings(), sometimes_undefined, n_boot=10) == pytest.approx(
        list(np.percentile([0, 2, 4, 6, 8], [2.5, 97.5]))
    )


def test_bootstrap_needs_two_cases():
    assert bootstrap_ci(ratings()[:1], interval_alpha, n_boot=10) is None


def test_summary_is_reproducible_and_seeded():
    first = agreement_summary(ratings(), NAMES, domain=DOMAIN, categorical=True, n_boot=100, seed=1)
    again = agreement_summary(ratings(), NAMES, domain=DOMAIN, categorical=True, n_boot=100, seed=1)
    other = agreement_summary(ratings(), NAMES, domain=DOMAIN, categorical=True, n_boot=100, seed=2)
    assert first == again
    assert first["krippendorff_alpha"]["ordinal"]["ci95"] != other["krippendorff_alpha"]["ordinal"]["ci95"]


def test_summary_intervals_contain_their_estimates():
    summary = agreement_summary(ratings(), NAMES, domain=DOMAIN, categorical=True, n_boot=300)
    for level in LEVELS:
        entry = summary["krippendorff_alpha"][level]
        assert entry["ci95"][0] < entry["value"] < entry["ci95"][1]
    kappa = summary["weighted_kappa"]
    assert kappa["ci95"][0] < kappa["mean"] < kappa["ci95"][1]


def test_summary_intervals_equal_the_public_bootstrap_with_the_same_seed():
    # The summary's vectorised replicates and bootstrap_ci over the library calls see the same
    # resamples for a seed, so the intervals agree.
    data = ratings(cases=60)
    summary = agreement_summary(data, NAMES, domain=DOMAIN, categorical=True, n_boot=80, seed=9)
    for level in LEVELS:
        expected = bootstrap_ci(
            data, lambda m, lv=level: krippendorff_alpha(m, level=lv, domain=DOMAIN), n_boot=80, seed=9
        )
        assert summary["krippendorff_alpha"][level]["ci95"] == pytest.approx(expected, abs=1e-9)
    expected = bootstrap_ci(data, lambda m: weighted_kappa_pairs(m, NAMES, domain=DOMAIN)["mean"], n_boot=80, seed=9)
    assert summary["weighted_kappa"]["ci95"] == pytest.approx(expected, abs=1e-9)
