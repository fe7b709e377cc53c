"""Agreement statistics against values published in the literature (to 3 decimals)."""

import numpy as np
import pytest

from scoring.agreement import fleiss_kappa, icc_all, krippendorff_alpha
from scoring.agreement.coefficients import _icc_table

nan = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4 observers x 12 units
# example with missing values; here as cases x raters. Published: nominal .743, ordinal .815,
# interval .849, ratio .797 (also in the krippendorff package's doctests and, for nominal and
# interval, SimplyAgree's agree_coef: 0.7434211 and 0.8491071).
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
).T

# Fleiss (1971) as in Wikipedia "Fleiss' kappa": 10 subjects, 14 raters, counts per category 1..5.
FLEISS_1971_COUNTS = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)

# Shrout & Fleiss (1979), Table 2: 6 targets x 4 judges.
SHROUT_FLEISS_1979 = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float
)


@pytest.mark.parametrize(
    ("level", "expected"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)]
)
def test_alpha_reproduces_krippendorffs_worked_example(level, expected):
    assert round(krippendorff_alpha(KRIPPENDORFF_2011, level=level, domain=None), 3) == expected


@pytest.mark.parametrize(("level", "expected"), [("nominal", 0.743), ("ordinal", 0.815)])
def test_alpha_with_the_value_domain_gives_the_same_worked_example(level, expected):
    assert round(krippendorff_alpha(KRIPPENDORFF_2011, level=level, domain=[1, 2, 3, 4, 5]), 3) == expected


def test_fleiss_kappa_reproduces_the_fleiss_1971_example():
    # One row per subject, one column per rater, reproducing the published counts.
    ratings = np.array([np.repeat(np.arange(1, 6), row) for row in FLEISS_1971_COUNTS], dtype=float)
    assert ratings.shape == (10, 14)
    assert round(fleiss_kappa(ratings, domain=[1, 2, 3, 4, 5]), 3) == 0.210


def test_fleiss_kappa_does_not_depend_on_rater_order_within_a_case():
    ratings = np.array([np.repeat(np.arange(1, 6), row) for row in FLEISS_1971_COUNTS], dtype=float)
    shuffled = np.random.default_rng(0).permuted(ratings, axis=1)
    assert fleiss_kappa(shuffled, domain=[1, 2, 3, 4, 5]) == pytest.approx(
        fleiss_kappa(ratings, domain=[1, 2, 3, 4, 5])
    )


# Values: Shrout & Fleiss publish 2 decimals (.17 .29 .71 .44 .62 .91); 3 decimals and the 95% CIs
# as printed by R psych::ICC on the same data (dwoll/RExRepos interRaterICC; pingouin agrees).
SHROUT_FLEISS_ICC = {
    "ICC1_1": (0.166, 0.17, (-0.133, 0.72)),
    "ICC2_1": (0.290, 0.29, (0.019, 0.76)),
    "ICC3_1": (0.715, 0.71, (0.342, 0.95)),
    "ICC1_k": (0.443, 0.44, (-0.884, 0.91)),
    "ICC2_k": (0.620, 0.62, (0.071, 0.93)),
    "ICC3_k": (0.909, 0.91, (0.676, 0.99)),
}


@pytest.mark.parametrize("key", SHROUT_FLEISS_ICC)
def test_icc_reproduces_shrout_and_fleiss_table(key):
    three, published, (low, high) = SHROUT_FLEISS_ICC[key]
    result = icc_all(SHROUT_FLEISS_1979)[key]
    assert round(result["value"], 3) == three
    assert round(result["value"], 2) == published
    assert round(result["ci95"][0], 3) == low
    assert round(result["ci95"][1], 2) == high


# JASP's and SimplyAgree's tests use qf(1 - 0.05): a 90% two-sided interval. Reproducing them to
# 1e-3 with alpha=0.10 checks the interval formulas themselves, not just their rounding.
JASP_90 = {
    "ICC1_1": (-0.0967218809, 0.6433987439),
    "ICC2_1": (0.0429013074, 0.6910710059),
    "ICC3_1": (0.4118352991, 0.9258330566),
    "ICC1_k": (-0.54503916, 0.8783012372),
    "ICC2_k": (0.15203742, 0.8994768692),
    "ICC3_k": (0.7368986136, 0.9803661258),
}


@pytest.mark.parametrize("key", JASP_90)
def test_icc_interval_formulas_match_jasp_at_90_percent(key):
    result = _icc_table(SHROUT_FLEISS_1979, alpha=0.10)[key]
    assert result["ci95"] == pytest.approx(JASP_90[key], abs=1e-3)


def test_icc_with_a_missing_rating_uses_every_case_with_two_ratings_and_names_its_estimator():
    # Issue 15: ICCs used to drop every case a rater missed. A case with one rating shows no
    # agreement and is left out; a case with three of four ratings now counts.
    with_gaps = np.vstack([SHROUT_FLEISS_1979, [[3, nan, 4, 5], [nan, nan, nan, 1]]])
    table = icc_all(with_gaps)
    assert {entry["n_cases"] for entry in table.values()} == {7}
    assert table["ICC1_1"]["estimator"] == "one_way_anova_unbalanced" and table["ICC1_1"]["ci95"]
    assert table["ICC2_1"]["estimator"] == "reml_two_way_random" and table["ICC2_1"]["ci95"] is None
    assert table["ICC2_1"]["value"] != icc_all(SHROUT_FLEISS_1979)["ICC2_1"]["value"]


def test_icc_on_a_complete_design_is_the_two_way_anova():
    single_ratings_only = np.vstack([SHROUT_FLEISS_1979, [[nan, nan, nan, 1]]])
    table = icc_all(single_ratings_only)
    assert table == icc_all(SHROUT_FLEISS_1979)
    assert table["ICC3_k"] | {"value": 0} == {
        "value": 0,
        "ci95": table["ICC3_k"]["ci95"],
        "n_cases": 6,
        "estimator": "two_way_anova",
        "k": 4.0,
    }
