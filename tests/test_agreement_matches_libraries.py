"""Agreement statistics equal the libraries called directly, on random data with missing ratings."""

from itertools import combinations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss_kappa

from scoring.agreement import LEVELS, fleiss_kappa, krippendorff_alpha, weighted_kappa_pairs
from scoring.agreement.bootstrap import _fast_replicates
from scoring.agreement.summary import _slow_replicates

DOMAIN = list(range(9))
NAMES = ["alice", "bob", "charlie", "dave"]


def noisy_ratings(seed: int, cases: int = 200, raters: int = 4, missing: float = 0.2) -> np.ndarray:
    """Raters who see the same severity with +-2 points of noise, some ratings missing."""
    rng = np.random.default_rng(seed)
    severity = rng.integers(0, 9, cases)
    ratings = np.clip(severity[:, None] + rng.integers(-2, 3, (cases, raters)), 0, 8).astype(float)
    ratings[rng.random(ratings.shape) < missing] = np.nan
    return ratings


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("level", LEVELS)
def test_alpha_equals_krippendorff_package(seed, level):
    ratings = noisy_ratings(seed)
    expected = krippendorff.alpha(ratings.T, level_of_measurement=level, value_domain=DOMAIN)
    assert krippendorff_alpha(ratings, level=level, domain=DOMAIN) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", [1, 2])
def test_weighted_kappa_equals_scikit_learn_for_every_pair(seed):
    ratings = noisy_ratings(seed)
    result = weighted_kappa_pairs(ratings, NAMES, domain=DOMAIN)
    expected = []
    for a, b in combinations(range(4), 2):
        both = ~np.isnan(ratings[:, a]) & ~np.isnan(ratings[:, b])
        expected.append(cohen_kappa_score(ratings[both, a], ratings[both, b], labels=DOMAIN, weights="quadratic"))
    assert [p["raters"] for p in result["pairs"]] == [[NAMES[a], NAMES[b]] for a, b in combinations(range(4), 2)]
    assert [p["value"] for p in result["pairs"]] == pytest.approx(expected, abs=1e-12)
    assert result["mean"] == pytest.approx(np.mean(expected), abs=1e-12)


def test_fleiss_kappa_equals_statsmodels_when_every_case_has_three_ratings_from_any_raters():
    # Fleiss (1971) needs the same number of ratings per case, not the same raters (issue 15).
    ratings = noisy_ratings(4, missing=0)
    skipped = np.random.default_rng(4).integers(0, 4, ratings.shape[0])
    ratings[np.arange(ratings.shape[0]), skipped] = np.nan
    present = ratings[~np.isnan(ratings)].reshape(-1, 3).astype(int)
    table, _ = aggregate_raters(present, n_cat=9)
    assert fleiss_kappa(ratings, domain=DOMAIN) == pytest.approx(statsmodels_fleiss_kappa(table), abs=1e-12)


def test_fleiss_kappa_is_null_with_a_reason_when_the_number_of_ratings_per_case_varies():
    result = fleiss_kappa(noisy_ratings(4), domain=DOMAIN)
    assert "number of ratings per case varies" in result.reason


@pytest.mark.parametrize("seed", [5, 6])
def test_vectorised_bootstrap_equals_calling_the_libraries_on_every_resample(seed):
    # The summary computes replicates from per-case coincidence/confusion counts; they must be the
    # same numbers as krippendorff.alpha and cohen_kappa_score on each resampled matrix.
    ratings = noisy_ratings(seed, cases=80)
    fast = _fast_replicates(ratings, np.arange(9.0), list(LEVELS), True, 60, seed)
    slow = _slow_replicates(ratings, DOMAIN, list(LEVELS), True, 60, seed)
    for key in [*LEVELS, "kappa"]:
        np.testing.assert_allclose(fast[key], slow[key], rtol=0, atol=1e-9)


def test_vectorised_bootstrap_agrees_when_a_total_is_not_a_whole_number():
    ratings = noisy_ratings(7, cases=60) / 2  # half points, e.g. a mean of two lung scores
    values = np.unique(ratings[~np.isnan(ratings)])
    fast = _fast_replicates(ratings, values, ["interval", "ratio"], True, 40, 0)
    slow = _slow_replicates(ratings, None, ["interval", "ratio"], True, 40, 0)
    for key in ["interval", "ratio", "kappa"]:
        np.testing.assert_allclose(fast[key], slow[key], rtol=0, atol=1e-9)


def test_domain_order_and_repeats_do_not_change_the_statistics():
    ratings = noisy_ratings(8)
    messy = [8, 3, 3, 0, 1, 2, 4, 5, 6, 7, 0]
    for level in LEVELS:
        assert krippendorff_alpha(ratings, level=level, domain=messy) == pytest.approx(
            krippendorff_alpha(ratings, level=level, domain=DOMAIN), abs=1e-12
        )
    assert weighted_kappa_pairs(ratings, NAMES, domain=messy) == weighted_kappa_pairs(ratings, NAMES, domain=DOMAIN)
    assert fleiss_kappa(ratings, domain=messy) == pytest.approx(fleiss_kappa(ratings, domain=DOMAIN), abs=1e-12)
