"""Lin's concordance correlation coefficient and the overall CCC for more raters."""

from itertools import combinations

import numpy as np
import pytest
from scipy.stats import t as t_dist

from scoring.agreement.concordance import lin_ccc, overall_ccc, overall_ccc_jackknife

nan = np.nan

# Zou (2013, Statistical Methods in Medical Research 22:630) as shipped in the SimplyAgree R package
# (data "reps": id, x, y); the pairs with both measurements.
ZOU_2013_REPS = np.array(
    [
        [7.83, 6.57], [7.42, 5.62], [7.89, 6.9], [7.12, 6.57], [7.88, nan],
        [6.16, 4.06], [7.26, 4.29], [6.71, 4.26], [6.54, nan],
        [4.75, 4.71], [5.24, 5.5], [4.86, 5.08], [4.78, 5.02], [6.05, 6.01], [5.42, 5.67],
        [4.21, 4.14], [3.61, 4.2], [3.72, 4.61], [3.87, 4.68], [3.92, 5.04],
    ]
)  # fmt: skip


def test_lin_ccc_and_its_interval_reproduce_the_published_example():
    """SimplyAgree vignette "Agreement Tests" (Caldwell), agree_test(x = reps$x, y = reps$y):
    "CCC: 0.4791, 95% C.I. [0.1276, 0.7237]" (Lin 1989 with Lin 2000's correction, Z transform)."""
    result = lin_ccc(ZOU_2013_REPS)
    assert result["method"] == "lin_1989" and result["n_cases"] == 18
    assert round(result["value"], 4) == 0.4791
    assert [round(bound, 4) for bound in result["ci95"]] == [0.1276, 0.7237]


def test_overall_ccc_of_complete_ratings_is_lins_closed_form():
    # Lin (1989) section 4 / Barnhart, Haber & Song (2002) eq. 3, moments with divisor n.
    ratings = np.random.default_rng(0).normal(size=(40, 1)) + np.random.default_rng(1).normal(0, 0.6, (40, 4))
    ratings[:, 2] += 0.5
    s, means = np.cov(ratings, rowvar=False, bias=True), ratings.mean(axis=0)
    pairs = list(combinations(range(4), 2))
    closed = 2 * sum(s[j, k] for j, k in pairs) / (3 * np.trace(s) + sum((means[j] - means[k]) ** 2 for j, k in pairs))
    assert overall_ccc(ratings) == pytest.approx(closed, abs=1e-12)


def test_overall_ccc_weights_each_pairs_ccc_on_the_cases_both_rated():
    # Barnhart et al. (2002): the overall CCC is the weighted mean of the pairwise CCCs; with missing
    # ratings each pair uses the cases both rated, so no case with two ratings is dropped.
    rng = np.random.default_rng(2)
    ratings = rng.normal(size=(60, 1)) + rng.normal(0, 0.7, (60, 3))
    ratings[rng.random(ratings.shape) < 0.25] = nan
    weights, cccs = [], []
    for j, k in combinations(range(3), 2):
        both = ratings[~np.isnan(ratings[:, j]) & ~np.isnan(ratings[:, k])][:, [j, k]]
        cccs.append(lin_ccc(both)["value"])
        weights.append(both.var(axis=0).sum() + (both[:, 0].mean() - both[:, 1].mean()) ** 2)
    assert overall_ccc(ratings) == pytest.approx(np.average(cccs, weights=weights), abs=1e-12)
    result = lin_ccc(ratings)
    assert result["method"] == "overall_barnhart_2002"
    assert result["n_cases"] == int(((~np.isnan(ratings)).sum(axis=1) >= 2).sum())
    assert result["ci95"][0] < result["value"] < result["ci95"][1]


def test_constant_ratings_give_a_null_ccc_with_a_reason():
    result = lin_ccc(np.full((5, 2), 3.0))
    assert result["value"] is None and "no variance" in result["reason"]


def test_the_overall_ccc_interval_is_the_jackknife_on_fishers_z():
    rng = np.random.default_rng(3)
    ratings = np.round(rng.normal(4, 2, (50, 1)) + rng.normal(0, 1, (50, 4)))
    ratings[rng.random(ratings.shape) < 0.3] = nan
    ratings = ratings[(~np.isnan(ratings)).sum(axis=1) >= 2]  # the cases lin_ccc uses
    left_out = [overall_ccc(np.delete(ratings, i, axis=0)) for i in range(len(ratings))]
    np.testing.assert_allclose(overall_ccc_jackknife(ratings), left_out, rtol=0, atol=1e-12)
    z, n = np.arctanh(left_out), len(ratings)
    pseudo = n * np.arctanh(overall_ccc(ratings)) - (n - 1) * z  # Tukey's pseudo-values
    half = t_dist.ppf(0.975, n - 1) * pseudo.std(ddof=1) / np.sqrt(n)
    expected = np.tanh(pseudo.mean() + np.array([-half, half]))
    assert lin_ccc(ratings)["ci95"] == pytest.approx(expected, abs=1e-9)
