"""Intra-rater reliability from repeat reads: ICC(A,1) and Krippendorff's alpha (interval) per rater
and pooled, with bootstrap CIs, checked against independent computations, and in the agreement
report (JSON, CSV, HTML, blind labels) under "intra_rater" for each total."""

import krippendorff
import numpy as np
import pytest
from django.utils import timezone

from annotation.services import rating_submit
from scoring.agreement.intra_rater import FEWER_THAN_TWO_PAIRS, icc_a1, intra_rater_reliability
from scoring.report_formats import report_csv, report_with_rater_labels
from scoring.selectors import study_score_table
from scoring.services.agreement import agreement_report_build
from tests.conftest import open_repeat_study

RATER_A = np.array([[1, 2], [3, 3], [5, 4], [7, 8], [2, 2], [6, 6], [0, 1], [4, 4]], dtype=float)
RATER_B = np.array([[2, 2], [4, 5], [6, 6], [1, 0], [3, 4], [8, 7]], dtype=float)


def _icc_a1_by_hand(x: np.ndarray) -> float:
    """McGraw & Wong (1996) ICC(A,1) from the two-way ANOVA mean squares, written out."""
    n, k = x.shape
    grand = x.mean()
    msr = k * ((x.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    msc = n * ((x.mean(axis=0) - grand) ** 2).sum() / (k - 1)
    sse = ((x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + grand) ** 2).sum()
    mse = sse / ((n - 1) * (k - 1))
    return (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)


def test_icc_and_alpha_per_rater_match_independent_computations():
    result = intra_rater_reliability({"a": RATER_A, "b": RATER_B}, n_boot=200, seed=3)
    for name, pairs in (("a", RATER_A), ("b", RATER_B)):
        entry = result["raters"][name]
        assert entry["n_pairs"] == len(pairs)
        assert entry["icc"]["value"] == pytest.approx(_icc_a1_by_hand(pairs), abs=1e-12)
        expected_alpha = krippendorff.alpha(reliability_data=pairs.T, level_of_measurement="interval")
        assert entry["alpha"]["value"] == pytest.approx(expected_alpha, abs=1e-12)
        assert entry["mean_difference"] == pytest.approx((pairs[:, 1] - pairs[:, 0]).mean())
        for stat in ("icc", "alpha"):
            low, high = entry[stat]["ci95"]
            assert low <= entry[stat]["value"] <= high < 1.0001
    assert result["icc_form"] == "ICC(A,1)" and result["alpha_level"] == "interval"
    # On paper for rater a: MSR = 2 x 38.875 / 7 = 11.1071, MSC = 8 x 2 x 0.125^2 = 0.25, MSE = 1.75 / 7
    # = 0.25, so ICC(A,1) = (11.1071 - 0.25) / (11.1071 + 0.25 + (2 / 8)(0.25 - 0.25)) = 0.95597.
    assert result["raters"]["a"]["icc"]["value"] == pytest.approx(0.95597, abs=1e-5)


def test_pooled_values_use_every_pair_and_a_rater_clustered_bootstrap():
    result = intra_rater_reliability({"a": RATER_A, "b": RATER_B}, n_boot=300, seed=1)
    pooled, stacked = result["pooled"], np.vstack([RATER_A, RATER_B])
    assert pooled["n_pairs"] == 14 and pooled["n_raters"] == 2
    assert pooled["icc"]["value"] == pytest.approx(_icc_a1_by_hand(stacked), abs=1e-12)
    assert pooled["alpha"]["value"] == pytest.approx(
        krippendorff.alpha(reliability_data=stacked.T, level_of_measurement="interval"), abs=1e-12
    )
    # Resampling the two raters whole: each replicate is a's pairs twice, b's twice, or both, so
    # the interval lies between those three values (a case bootstrap would leave them).
    ends = sorted(icc_a1(np.vstack(m)) for m in ([RATER_A, RATER_A], [RATER_B, RATER_B], [RATER_A, RATER_B]))
    low, high = pooled["icc"]["ci95"]
    assert ends[0] - 1e-9 <= low <= high <= ends[-1] + 1e-9
    assert intra_rater_reliability({"a": RATER_A, "b": RATER_B}, n_boot=300, seed=1) == result  # seeded


def test_fewer_than_two_pairs_is_null_with_a_reason():
    result = intra_rater_reliability({"a": np.array([[1, 2]]), "b": np.empty((0, 2))}, n_boot=50)
    assert result["raters"]["a"]["icc"] == {"value": None, "ci95": None, "reason": FEWER_THAN_TWO_PAIRS}
    assert result["raters"]["b"]["alpha"]["value"] is None and result["raters"]["b"]["n_pairs"] == 0
    assert result["pooled"]["n_pairs"] == 1 and result["pooled"]["reason"] == FEWER_THAN_TWO_PAIRS
    # Pairs with a missing read are left out, not counted.
    partial = intra_rater_reliability({"a": np.array([[1, np.nan], [2, 2], [3, 4]])}, n_boot=0)
    assert partial["raters"]["a"]["n_pairs"] == 2 and partial["raters"]["a"]["icc"]["ci95"] is None


def _values(level: int) -> dict[str, int]:
    return {"extent_right": level % 5, "extent_left": (level + 1) % 5, "opacity_right": level % 4, "opacity_left": 1}


def test_the_agreement_report_has_intra_rater_under_each_total(make_study, personas):
    study = open_repeat_study(make_study, fraction=0.5, days=0, cases=0, n_cases=8)
    for assignment in study.assignments.filter(repeat=False):
        rating_submit(assignment=assignment, values=_values(assignment.case_id))
    study.assignments.filter(repeat=True).update(available_at=timezone.now())
    for assignment in study.assignments.filter(repeat=True):
        rating_submit(assignment=assignment, values=_values(assignment.case_id + assignment.case_id % 2))
    study.refresh_from_db()
    data = agreement_report_build(study=study, table=study_score_table(study=study), n_boot=100)
    intra = data["scores"]["geographic_extent"]["intra_rater"]
    assert set(intra["raters"]) == {"rater1", "rater2", "rater3"}
    assert intra["pooled"]["n_pairs"] == 12 and intra["pooled"]["n_raters"] == 3
    assert intra["pooled"]["alpha"]["value"] is not None and intra["pooled"]["alpha"]["ci95"] is not None
    assert "intra_rater" in data["scores"]["opacity"] and "intra_rater" not in data["scores"]["extent_right"]
    rows = [line.split(",") for line in report_csv(data).splitlines()]
    pooled_rows = [r for r in rows if r[0] == "geographic_extent" and r[2] == "pooled"]
    assert [r[1] for r in pooled_rows] == ["intra_rater_icc", "intra_rater_alpha"] and pooled_rows[0][6] == "12"
    blind = report_with_rater_labels(data, labels={"rater1": "Rater A", "rater2": "Rater B", "rater3": "Rater C"})
    assert set(blind["scores"]["geographic_extent"]["intra_rater"]["raters"]) == {"Rater A", "Rater B", "Rater C"}


def test_a_study_without_repeat_reads_says_so(make_study):
    study = make_study(n_cases=3)
    data = agreement_report_build(study=study, table=study_score_table(study=study), n_boot=0)
    intra = data["scores"]["geographic_extent"]["intra_rater"]
    assert intra["pooled"] is None and "no repeat reads" in intra["reason"]
