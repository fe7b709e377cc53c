"""Incomplete designs (issue 15): ICC and Fleiss' kappa use every case with two or more ratings, say
which estimator they used, and the report states the case set of every statistic."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.anova import anova_lm

from scoring.agreement import agreement_summary, icc_all
from scoring.agreement.variance import Ratings, one_way, one_way_iccs, reml_components
from tests.test_agreement_reference_values import SHROUT_FLEISS_1979

nan = np.nan


def pool_design(seed: int, cases: int = 80, pool: int = 8, per_case: int = 3) -> np.ndarray:
    """The platform's standard design: a pool of raters larger than the raters per case."""
    rng = np.random.default_rng(seed)
    readers = rng.normal(0, 1, pool)
    readers = (readers - readers.mean()) / readers.std(ddof=1)  # these readers' variance is exactly 1
    ratings = rng.normal(0, 2, (cases, 1)) + readers[None, :] + rng.normal(0, 1, (cases, pool))
    keep = np.argsort(rng.random((cases, pool)), axis=1)[:, :per_case]
    out = np.full_like(ratings, nan)
    np.put_along_axis(out, keep, np.take_along_axis(ratings, keep, axis=1), axis=1)
    return out


def long_form(m: np.ndarray) -> pd.DataFrame:
    r = Ratings.from_matrix(m)
    return pd.DataFrame({"y": r.y, "case": r.case, "rater": r.rater, "all": 1})


@pytest.mark.parametrize("seed", [1, 2])
def test_reml_variance_components_equal_statsmodels_mixedlm_on_crossed_missing_ratings(seed):
    ratings = pool_design(seed, cases=60, pool=5, per_case=3)
    ratings[0, ~np.isnan(ratings[0])] = [1.0, 2.0, 3.0]  # any values: only the design matters
    model = smf.mixedlm(
        "y ~ 1",
        long_form(ratings),
        groups="all",
        re_formula="0",
        vc_formula={"case": "0 + C(case)", "rater": "0 + C(rater)"},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(reml=True, method="lbfgs")
    var_c, var_r, var_e = reml_components(Ratings.from_matrix(ratings))
    # Five readers leave the likelihood flat in the readers' variance: statsmodels stops within 1e-3.
    assert [var_c, var_r, var_e] == pytest.approx([*fit.vcomp, fit.scale], rel=1e-3)


def test_reml_on_a_complete_design_reproduces_shrout_and_fleiss():
    """Shrout & Fleiss (1979) Table 2: BMS 11.24, JMS 32.49, EMS 1.02, ICC(2,1) .29, ICC(3,1) .71
    (3 decimals .290 and .715 as R psych::ICC prints them): REML equals the ANOVA estimates here."""
    var_c, var_r, var_e = reml_components(Ratings.from_matrix(SHROUT_FLEISS_1979))
    assert round(var_e, 2) == 1.02
    assert round(4 * var_c + var_e, 2) == 11.24
    assert round(6 * var_r + var_e, 2) == 32.49
    assert round(var_c / (var_c + var_r + var_e), 3) == 0.290
    assert round(var_c / (var_c + var_e), 3) == 0.715


def test_unbalanced_one_way_mean_squares_equal_statsmodels_anova():
    ratings = pool_design(3)
    ratings[np.random.default_rng(3).random(ratings.shape) < 0.2] = nan  # 1 to 3 ratings per case
    ratings = ratings[(~np.isnan(ratings)).sum(axis=1) >= 2]
    table = anova_lm(smf.ols("y ~ C(case)", long_form(ratings)).fit())
    s = one_way(Ratings.from_matrix(ratings))
    assert s.between == pytest.approx(table.loc["C(case)", "mean_sq"], rel=1e-10)
    assert s.within == pytest.approx(table.loc["Residual", "mean_sq"], rel=1e-10)
    n_i = (~np.isnan(ratings)).sum(axis=1)
    k0 = (n_i.sum() - (n_i**2).sum() / n_i.sum()) / (len(n_i) - 1)  # Searle (1971) n0
    value, _ = one_way_iccs(s)["ICC1_1"]
    assert value == pytest.approx((s.between - s.within) / (s.between + (k0 - 1) * s.within), abs=1e-12)


def test_one_way_on_a_complete_design_reproduces_shrout_and_fleiss_icc1():
    """Shrout & Fleiss (1979): ICC(1,1) .17 and ICC(1,k) .44 (.166 and .443, CIs from psych::ICC)."""
    result = one_way_iccs(one_way(Ratings.from_matrix(SHROUT_FLEISS_1979)))
    (icc11, (low11, _)), (icc1k, (low1k, _)) = result["ICC1_1"], result["ICC1_k"]
    assert (round(icc11, 3), round(low11, 3), round(icc1k, 3), round(low1k, 3)) == (0.166, -0.133, 0.443, -0.884)


def test_pool_of_raters_gives_every_icc_from_every_case_and_recovers_the_true_values():
    # 8 raters, 3 per case: no case is rated by everyone. Before issue 15 every ICC was null.
    # True components 4, 1, 1: ICC(1,1) = 4/6, ICC(2,1) = 4/6, ICC(3,1) = 4/5.
    table = icc_all(pool_design(4, cases=600))
    assert {entry["n_cases"] for entry in table.values()} == {600}
    assert table["ICC1_1"]["value"] == pytest.approx(4 / 6, abs=0.06)
    assert table["ICC2_1"]["value"] == pytest.approx(4 / 6, abs=0.06)
    assert table["ICC3_1"]["value"] == pytest.approx(4 / 5, abs=0.06)
    assert table["ICC1_k"]["k"] == pytest.approx(3.0)


def test_fleiss_kappa_uses_every_case_when_each_has_the_same_number_of_ratings():
    ratings = np.clip(np.round(pool_design(5) + 4), 0, 8)
    summary = agreement_summary(ratings, [f"r{i}" for i in range(8)], domain=range(9), categorical=True, n_boot=0)
    assert summary["fleiss_kappa"] is not None and summary["fleiss_kappa_n_cases"] == 80


def test_the_summary_states_the_case_set_of_every_statistic():
    ratings = pool_design(6, cases=30)
    ratings[0, ~np.isnan(ratings[0])] = [nan, nan, 1.0]  # a case with one rating: shows no agreement
    ratings = np.round(ratings + 4)
    summary = agreement_summary(ratings, [f"r{i}" for i in range(8)], domain=None, categorical=False, n_boot=20)
    summary = json.loads(json.dumps(summary, allow_nan=False))
    assert summary["n_cases"] == 30
    assert summary["icc_n_cases"] == 29 and "REML" in summary["icc_estimator"]
    assert summary["fleiss_kappa_n_cases"] == 29  # null for a continuous total, but the set is stated
    assert summary["gwet_ac1"]["n_cases"] == 30 and summary["gwet_ac1"]["n_cases_pairable"] == 29
    assert summary["lin_ccc"]["n_cases"] == 29
    assert summary["variance_components"]["n_cases"] == 29
    assert summary["variance_components"]["estimator"] == "reml_two_way_random"


def test_a_rater_without_ratings_leaves_a_complete_design_complete():
    with_idle_rater = np.column_stack([SHROUT_FLEISS_1979, np.full(6, nan)])
    assert icc_all(with_idle_rater) == icc_all(SHROUT_FLEISS_1979)
    assert icc_all(with_idle_rater)["ICC2_1"]["estimator"] == "two_way_anova"
