"""The report states the case set of every statistic, and Fleiss' kappa's n is the cases with the
constant number of ratings it needs (Fleiss 1971), not the cases anyone rated (issue 15, Reporting)."""

import numpy as np
import pytest
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from annotation.csv_io import ratings_csv_import
from scoring.agreement import agreement_summary
from scoring.services import agreement_report_execute, agreement_report_request

DOMAIN = list(range(5))
# Two of three raters on each of 9 cases (a pool larger than the raters per case), one case with a
# single rating (no agreement to see) and one case nobody rated.
M = np.full((11, 3), np.nan)
for i in range(9):
    for j in ((0, 1), (1, 2), (0, 2))[i % 3]:
        M[i, j] = (i + (j == 2)) % 5
M[9, 0] = 3


def test_fleiss_uses_the_cases_with_two_ratings_and_says_how_many_on_each():
    s = agreement_summary(M, ["a", "b", "c"], domain=DOMAIN, categorical=True, n_boot=0)
    assert s["n_cases"] == 10  # the case nobody rated is dropped
    assert (s["fleiss_kappa_n_cases"], s["fleiss_kappa_ratings_per_case"]) == (9, 2)
    assert s["case_sets"]["fleiss_kappa"]["n_cases"] == 9
    assert "each with the same number (2)" in s["case_sets"]["fleiss_kappa"]["cases"]
    table = np.zeros((9, 5))
    for i in range(9):
        for value in M[i][~np.isnan(M[i])]:
            table[i, int(value)] += 1
    assert s["fleiss_kappa"] == pytest.approx(statsmodels_fleiss(table, method="fleiss"))


def test_with_a_varying_number_of_ratings_fleiss_has_no_cases_and_the_report_says_why():
    m = M.copy()
    m[0, 2] = 1  # three ratings on one case
    s = agreement_summary(m, ["a", "b", "c"], domain=DOMAIN, categorical=True, n_boot=0)
    assert s["fleiss_kappa"] is None and s["fleiss_kappa_ratings_per_case"] is None
    assert s["case_sets"]["fleiss_kappa"]["n_cases"] == 0
    assert "the number of ratings per case varies" in s["case_sets"]["fleiss_kappa"]["cases"]


def test_a_total_says_fleiss_kappa_uses_no_cases():
    s = agreement_summary(M, ["a", "b", "c"], domain=DOMAIN, categorical=False, n_boot=0)
    assert s["case_sets"]["fleiss_kappa"] == {"cases": "none: a total is not categorical", "n_cases": 0}


def test_every_statistic_has_its_case_set():
    s = agreement_summary(M, ["a", "b", "c"], domain=DOMAIN, categorical=True, n_boot=0)
    statistics = {"krippendorff_alpha", "icc", "fleiss_kappa", "lin_ccc", "variance_components", "weighted_kappa"}
    assert statistics | {"gwet_ac1_ac2", "exact_agreement", "raters"} == set(s["case_sets"])
    for name in ("krippendorff_alpha", "icc", "lin_ccc", "variance_components"):
        assert s["case_sets"][name]["n_cases"] == 9  # the case with a single rating counts for none of them
    assert s["icc_n_cases"] == s["lin_ccc"]["n_cases"] == s["variance_components"]["n_cases"] == 9
    assert s["gwet_ac1"]["n_cases_pairable"] == s["case_sets"]["gwet_ac1_ac2"]["n_cases"]


def test_the_page_shows_the_case_sets_and_fleiss_n(make_study, client_for):
    study = make_study(n_cases=0, open_it=False)
    rows = ["image,rater,extent_right,extent_left,opacity_right,opacity_left"]
    raters = ("rater1", "rater2", "rater3")
    for i in range(9):
        for j in ((0, 1), (1, 2), (0, 2))[i % 3]:
            rows.append(f"c{i}.png,{raters[j]},{(i + j) % 5},{i % 5},{i % 4},{(i + j) % 4}")
    ratings_csv_import(study=study, data="\n".join(rows).encode(), allow_missing_images=True)
    agreement_report_execute(report_id=agreement_report_request(study=study).pk)
    page = client_for("alice").get(f"/studies/{study.slug}/report/").content.decode()
    assert page.count("The cases each statistic uses") == len(study.rubric_definition.totals)
    # Per item (categories), Fleiss' n and the constant number of ratings; a total is not categorical.
    assert page.count("n = 9, 2 ratings each") == len(study.rubric_definition.items)
    assert "continuous total" in page
