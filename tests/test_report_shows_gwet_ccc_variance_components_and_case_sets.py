"""The report page, its JSON and its CSV carry Gwet's AC1/AC2, Lin's CCC, the variance components
with SEM, MDC95 and the reader test, and the cases and estimator behind each ICC (issue 15)."""

import csv
import io

import pytest

from annotation.csv_io import ratings_csv_import
from scoring.services import agreement_report_execute, agreement_report_request

# Three raters, two per case: no case has every rater, the platform's standard design.
RATERS = ("rater1", "rater2", "rater3")
RATINGS = "image,rater,extent_right,extent_left,opacity_right,opacity_left\n" + "\n".join(
    f"c{i}.png,{rater},{(i + r) % 5},{(i * 2 + r // 2) % 5},{(i + r) % 4},{i % 4}"
    for i in range(12)
    for r, rater in enumerate(RATERS)
    if r != i % 3
)


@pytest.fixture
def reported(make_study):
    study = make_study(n_cases=0, open_it=False, raters=RATERS, raters_per_case=2)
    ratings_csv_import(study=study, data=RATINGS.encode(), allow_missing_images=True)
    agreement_report_execute(report_id=agreement_report_request(study=study).pk)
    return study


def test_the_json_has_the_new_coefficients_and_the_case_set_of_each(reported, client_for):
    data = client_for("alice").get(f"/studies/{reported.slug}/report.json").json()
    score = data["scores"]["geographic_extent"]
    assert score["icc_n_cases"] == 12 and score["icc"]["ICC2_1"]["value"] is not None
    assert score["icc"]["ICC2_1"]["estimator"] == "reml_two_way_random"
    for key in ("gwet_ac1", "gwet_ac2", "lin_ccc"):
        assert set(score[key]) >= {"value", "ci95", "n_cases"}
    assert list(score["variance_components"])[:8] == [
        "estimator",
        "n_cases",
        "n_ratings",
        "case",
        "reader",
        "residual",
        "sem",
        "mdc95",
    ]
    item = data["scores"]["extent_right"]
    assert item["fleiss_kappa"] is not None and item["fleiss_kappa_n_cases"] == 12


def test_the_page_shows_them_in_the_summary_and_the_details(reported, client_for):
    page = client_for("alice").get(f"/studies/{reported.slug}/report/").content.decode()
    for text in ("Lin&#x27;s CCC", "Gwet&#x27;s AC1", "Gwet&#x27;s AC2 (quadratic weights)", "MDC95", "SEM"):
        assert text in page or text.replace("&#x27;", "'") in page
    assert "REML variance components" in page and "Reader differences" in page


def test_the_csv_has_a_row_for_each_new_statistic(reported, client_for):
    body = client_for("alice").get(f"/studies/{reported.slug}/report.csv").content.decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    statistics = {(row["score"], row["statistic"], row["variant"]) for row in rows}
    for name, variant in [
        ("gwet_ac1", "identity"),
        ("gwet_ac2", "quadratic"),
        ("lin_ccc", "overall_barnhart_2002"),
        ("variance_component", "sem"),
        ("variance_component", "mdc95"),
        ("reader_test", "f_readers_adjusted_for_cases"),
    ]:
        assert ("geographic_extent", name, variant) in statistics
    icc = next(r for r in rows if r["statistic"] == "icc" and r["variant"] == "ICC2_1" and r["score"] == "opacity")
    assert icc["n_cases"] == "12" and "reml_two_way_random" in icc["note"]
