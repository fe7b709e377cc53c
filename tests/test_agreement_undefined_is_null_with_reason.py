"""Undefined statistics are null with a reason: never NaN in JSON, never an exception."""

import json

import numpy as np
import pytest

from scoring.agreement import LEVELS, Undefined, agreement_summary, icc_all, krippendorff_alpha

NAMES = ["alice", "bob", "charlie"]
DOMAIN = list(range(9))


def summary_json(matrix, names=NAMES, **kwargs) -> dict:
    kwargs = {"domain": DOMAIN, "categorical": True, "n_boot": 50} | kwargs
    summary = agreement_summary(matrix, names, **kwargs)
    return json.loads(json.dumps(summary, allow_nan=False))  # raises on NaN or a numpy type


def test_identical_constant_ratings_give_null_alpha_with_a_reason():
    summary = summary_json(np.full((20, 3), 4.0))
    for level in LEVELS:
        assert summary["krippendorff_alpha"][level]["value"] is None
        assert "no variance" in summary["krippendorff_alpha"][level]["reason"]
    assert summary["icc"]["ICC2_1"]["value"] is None and summary["icc"]["ICC2_1"]["reason"]
    assert summary["weighted_kappa"]["mean"] is None and summary["weighted_kappa"]["reason"]
    assert summary["fleiss_kappa"] is None and summary["undefined"]["fleiss_kappa"]
    assert summary["exact_agreement"] == 1.0


def test_alpha_function_returns_undefined_not_nan_for_constant_ratings():
    result = krippendorff_alpha(np.full((5, 3), 2.0), level="interval", domain=DOMAIN)
    assert isinstance(result, Undefined)


def test_one_rater_gives_nulls_with_reasons():
    summary = summary_json(np.arange(10.0)[:, None] % 9, names=["alice"])
    assert summary["krippendorff_alpha"]["ordinal"] == {"value": None, "reason": "fewer than two raters", "ci95": None}
    assert summary["icc"]["ICC1_1"]["reason"] == "fewer than two raters"
    assert summary["weighted_kappa"]["mean"] is None and summary["weighted_kappa"]["pairs"] == []
    assert summary["undefined"]["exact_agreement"] == "fewer than two raters"
    assert summary["raters"]["alice"]["n"] == 10 and summary["raters"]["alice"]["bias_vs_consensus"] is None
    assert summary["bland_altman"] == []


def test_one_case_gives_nulls_with_reasons():
    summary = summary_json([[2.0, 3.0, 3.0]])
    assert summary["n_cases"] == 1
    assert summary["krippendorff_alpha"]["interval"]["reason"] == "fewer than two cases"
    assert summary["icc"]["ICC3_k"]["reason"] == "fewer than two cases"
    assert summary["weighted_kappa"]["mean"] is None
    assert summary["fleiss_kappa"] is None
    # A share of agreeing pairs needs no second case.
    assert summary["exact_agreement"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("empty", [[], np.empty((0, 3))])
def test_empty_matrix_gives_nulls_with_reasons(empty):
    summary = summary_json(empty)
    assert summary["n_cases"] == 0 and summary["icc_n_cases"] == 0
    assert all(entry["value"] is None for entry in summary["krippendorff_alpha"].values())
    assert set(summary["undefined"]) == {"fleiss_kappa", "exact_agreement", "within_one"}
    assert summary["raters"]["bob"] == {
        "n": 0,
        "mean": None,
        "bias_vs_consensus": None,
        "mae_vs_consensus": None,
        "reason": "no case shared with another rater",
    }


def test_all_missing_ratings_are_treated_as_no_cases():
    summary = summary_json(np.full((5, 3), np.nan))
    assert summary["n_cases"] == 0
    assert summary["krippendorff_alpha"]["nominal"]["value"] is None


def test_no_case_rated_by_two_raters_gives_null_alpha():
    ratings = np.full((6, 3), np.nan)
    ratings[np.arange(6), np.arange(6) % 3] = [1, 2, 3, 4, 5, 6]
    summary = summary_json(ratings)
    assert summary["krippendorff_alpha"]["interval"]["reason"] == "no case was rated by two or more raters"
    assert summary["raters"]["alice"]["mean"] == 2.5


def test_continuous_total_has_no_fleiss_kappa():
    rng = np.random.default_rng(0)
    summary = summary_json(rng.integers(0, 9, (30, 3)).astype(float), categorical=False)
    assert summary["fleiss_kappa"] is None
    assert summary["undefined"]["fleiss_kappa"] == "continuous total"


def test_ratings_outside_the_domain_give_null_nominal_and_ordinal_alpha_but_keep_interval():
    rng = np.random.default_rng(0)
    ratings = rng.integers(0, 9, (30, 3)).astype(float)
    ratings[0, 0] = 12
    summary = summary_json(ratings)
    assert "outside the value domain" in summary["krippendorff_alpha"]["ordinal"]["reason"]
    assert summary["krippendorff_alpha"]["interval"]["value"] is not None
    assert summary["krippendorff_alpha"]["interval"]["ci95"] is not None
    assert summary["weighted_kappa"]["mean"] is None


def test_ratio_alpha_is_null_for_negative_values():
    ratings = np.array([[-1.0, 0.0], [1.0, 2.0], [2.0, 2.0]])
    assert krippendorff_alpha(ratings, level="ratio", domain=None) == Undefined("ratio level needs non-negative values")


def test_perfect_agreement_gives_icc_one_without_an_interval():
    ratings = np.repeat(np.arange(6.0)[:, None], 3, axis=1)
    result = icc_all(ratings)["ICC3_1"]
    assert result["value"] == 1.0 and result["ci95"] is None and result["reason"]
    json.dumps(summary_json(ratings), allow_nan=False)


def test_bootstrap_can_be_switched_off():
    rng = np.random.default_rng(0)
    summary = summary_json(rng.integers(0, 9, (30, 3)).astype(float), n_boot=0)
    assert summary["krippendorff_alpha"]["interval"]["ci95"] is None
    assert summary["krippendorff_alpha"]["interval"]["reason"] == "bootstrap disabled"


def test_unknown_level_and_mismatched_names_are_programming_errors():
    with pytest.raises(ValueError):
        krippendorff_alpha(np.ones((3, 2)), level="circular", domain=None)
    with pytest.raises(ValueError):
        agreement_summary(np.ones((3, 2)), ["alice"], domain=None, categorical=False)
