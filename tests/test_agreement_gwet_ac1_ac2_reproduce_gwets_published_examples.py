"""Gwet's AC1 and AC2 with missing ratings and their standard errors reproduce Gwet's published
examples to 3 decimals or better."""

import json

import numpy as np
import pytest

from scoring.agreement import agreement_summary, krippendorff_alpha
from scoring.agreement.gwet import gwet_ac
from tests.test_agreement_reference_values import KRIPPENDORFF_2011

# cac.raw4raters in Gwet's irrCAC package: 4 raters, 12 subjects, categories 1-5, no rater scored
# every subject (Gwet 2014, Handbook of Inter-Rater Reliability, 4th ed., p. 120). It is the same
# matrix as Krippendorff's (2011) worked example.
CAC_RAW4RATERS = KRIPPENDORFF_2011

# Gwet's cont3x3abstractors: 2 raters, 100 subjects, 3 categories (a contingency table).
CONT3X3ABSTRACTORS = np.array([[13, 0, 0], [0, 20, 7], [0, 4, 56]])


def test_ac1_with_missing_ratings_reproduces_gwets_raw_ratings_example():
    """irrCAC 1.0 README and vignette "Calculating Chance-corrected Agreement Coefficients",
    section "Computing agreement coefficients from raw ratings": gwet.ac1.raw(cac.raw4raters) gives
    pa 0.8181818, pe 0.1903212, AC1 0.77544, SE 0.14295, CI (0.461, 1), p 0.000208721."""
    result = gwet_ac(CAC_RAW4RATERS, domain=None, weights="identity")
    assert round(result["pa"], 7) == 0.8181818
    assert round(result["pe"], 7) == 0.1903212
    assert round(result["value"], 5) == 0.77544
    assert round(result["se"], 5) == 0.14295
    assert [round(bound, 3) for bound in result["ci95"]] == [0.461, 1.0]
    assert result["p_value"] == pytest.approx(0.000208721, rel=1e-5)
    assert (result["n_cases"], result["n_cases_pairable"]) == (12, 11)


def test_ac2_with_quadratic_weights_reproduces_gwets_weighted_example():
    """irrCAC vignette "Weighted Chance-corrected Agreement Coefficients", section "Weighting for a
    dataset of raw ratings": gwet.ac1.raw(cac.raw4raters, weights = "quadratic") gives pa 0.9753788,
    pe 0.7137044, AC2 0.914, SE 0.10396, CI (0.685, 1), p 2.634438e-06."""
    result = gwet_ac(CAC_RAW4RATERS, domain=None, weights="quadratic")
    assert round(result["pa"], 7) == 0.9753788
    assert round(result["pe"], 7) == 0.7137044
    assert round(result["value"], 3) == 0.914
    assert round(result["se"], 5) == 0.10396
    assert [round(bound, 3) for bound in result["ci95"]] == [0.685, 1.0]
    assert result["p_value"] == pytest.approx(2.634438e-06, rel=1e-5)


@pytest.mark.parametrize(
    ("weights", "value", "table_se"), [("identity", 0.8493305, 0.04321747), ("quadratic", 0.9402369, 0.01792019)]
)
def test_two_raters_reproduce_gwets_contingency_table_example(weights, value, table_se):
    """irrCAC README/vignettes: gwet.ac1.table(cont3x3abstractors) 0.8493305 (SE 0.04321747) and
    with quadratic weights 0.9402369 (SE 0.01792019). The table functions divide the variance by n^2,
    the raw-ratings function (ours) by n(n - 1): the SEs differ by sqrt(n / (n - 1))."""
    pairs = [(a, b) for a in range(3) for b in range(3) for _ in range(CONT3X3ABSTRACTORS[a, b])]
    result = gwet_ac(np.array(pairs, dtype=float), domain=None, weights=weights)
    assert round(result["value"], 7) == value
    assert result["se"] * np.sqrt(99 / 100) == pytest.approx(table_se, rel=1e-4)


def test_ac1_stays_high_where_alpha_drops_with_a_rare_category():
    # The prevalence paradox of issue 15: 97% of cases scored 0 by both raters, three disagreements.
    ratings = np.zeros((100, 2))
    ratings[:3, 0] = 1
    ratings[3:4] = 1
    alpha = krippendorff_alpha(ratings, level="nominal", domain=[0, 1])
    ac1 = gwet_ac(ratings, domain=[0, 1])["value"]
    assert ac1 > 0.95 > 0.5 > alpha


def test_the_rubric_domain_sets_the_categories():
    # Unused categories count (Gwet's categ.labels): AC1's chance agreement shrinks with more of them.
    observed = gwet_ac(CAC_RAW4RATERS, domain=None)
    wider = gwet_ac(CAC_RAW4RATERS, domain=range(1, 8))
    assert wider["pe"] < observed["pe"] and wider["value"] > observed["value"]


def test_undefined_gwet_is_null_with_a_reason_in_the_summary():
    summary = agreement_summary(np.arange(10.0)[:, None], ["alice"], domain=range(10), categorical=True, n_boot=0)
    summary = json.loads(json.dumps(summary, allow_nan=False))
    assert summary["gwet_ac1"] == {"value": None, "ci95": None, "reason": "fewer than two raters"}
    assert summary["gwet_ac2"]["value"] is None
