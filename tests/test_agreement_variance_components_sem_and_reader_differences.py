"""Variance components (case, reader, residual) with SEM and MDC95, and the test for systematic
differences between readers."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy.stats import friedmanchisquare
from statsmodels.stats.anova import anova_lm

from scoring.agreement.variance import Ratings, reader_f_test, variance_components
from tests.test_agreement_reference_values import SHROUT_FLEISS_1979

nan = np.nan


def test_components_and_reader_f_test_reproduce_shrout_and_fleiss_table_2():
    """Shrout & Fleiss (1979), Table 2 (6 targets, 4 judges): BMS 11.24, JMS 32.49, EMS 1.02, so the
    judges' F = JMS / EMS on 3 and 15 degrees of freedom."""
    result = variance_components(SHROUT_FLEISS_1979)
    case, reader, residual = (result[part]["value"] for part in ("case", "reader", "residual"))
    assert result["estimator"] == "two_way_anova" and result["n_cases"] == 6 and result["n_ratings"] == 24
    assert round(residual, 2) == 1.02
    assert round(4 * case + residual, 2) == 11.24
    assert round(6 * reader + residual, 2) == 32.49
    test = result["reader_test"]
    assert test["df"] == [3, 15]
    assert test["statistic"] == pytest.approx((6 * reader + residual) / residual, rel=1e-12)
    assert round(test["statistic"] * residual, 2) == 32.49


def test_sem_is_one_readers_error_and_mdc95_the_smallest_real_change():
    # Weir (2005): SEM from the error variance; here a random reader's, so readers' variance counts.
    result = variance_components(SHROUT_FLEISS_1979)
    sem = np.sqrt(result["reader"]["value"] + result["residual"]["value"])
    assert result["sem"]["value"] == pytest.approx(sem, rel=1e-12)
    assert result["mdc95"]["value"] == pytest.approx(1.959964 * np.sqrt(2) * sem, rel=1e-6)


def test_reader_f_test_with_missing_ratings_equals_statsmodels_anova():
    rng = np.random.default_rng(0)
    ratings = rng.normal(0, 2, (50, 1)) + np.array([0, 0.3, 0.8, 0]) + rng.normal(0, 1, (50, 4))
    ratings[rng.random(ratings.shape) < 0.3] = nan
    ratings = ratings[(~np.isnan(ratings)).sum(axis=1) >= 2]
    r = Ratings.from_matrix(ratings)
    frame = pd.DataFrame({"y": r.y, "case": r.case, "rater": r.rater})
    table = anova_lm(smf.ols("y ~ C(case) + C(rater)", frame).fit(), typ=2)  # readers adjusted for cases
    result = reader_f_test(r)
    assert result["statistic"] == pytest.approx(table.loc["C(rater)", "F"], rel=1e-9)
    assert result["p_value"] == pytest.approx(table.loc["C(rater)", "PR(>F)"], rel=1e-6)
    assert result["df"] == [3, int(table.loc["Residual", "df"])]


def test_ordinal_scores_also_get_friedmans_test_on_complete_cases():
    rng = np.random.default_rng(1)
    ratings = np.clip(rng.integers(0, 4, (30, 1)) + rng.integers(-1, 2, (30, 3)), 0, 4).astype(float)
    ratings[0, 0] = nan
    result = variance_components(ratings, ordinal=True)["reader_test_ordinal"]
    expected = friedmanchisquare(*ratings[1:].T)
    assert result["test"] == "friedman_complete_cases" and result["n_cases"] == 29
    assert result["statistic"] == pytest.approx(expected.statistic) and result["p_value"] == pytest.approx(
        expected.pvalue
    )


def test_too_few_ratings_give_null_components_with_a_reason():
    result = variance_components(np.array([[1.0, nan], [nan, 2.0], [3.0, 3.0]]))
    assert result["value"] is None and "two cases" in result["reason"] and result["n_cases"] == 1
