"""The report's JSON, page and CSV give each Bland-Altman limit its 95% CI, and the CSV carries the BCa
bootstrap intervals next to the percentile ones (issue 15, Intervals)."""

import csv
import io

import pytest

from annotation.csv_io import ratings_csv_import
from scoring.services import agreement_report_execute, agreement_report_request

RATERS = ("rater1", "rater2")
RATINGS = "image,rater,extent_right,extent_left,opacity_right,opacity_left\n" + "\n".join(
    f"c{i}.png,{rater},{(i + r * (i % 3)) % 5},{(i * 2 + r) % 5},{(i + r) % 4},{i % 4}"
    for i in range(10)
    for r, rater in enumerate(RATERS)
)


@pytest.fixture
def reported(make_study):
    study = make_study(n_cases=0, open_it=False, raters=RATERS, raters_per_case=2)
    ratings_csv_import(study=study, data=RATINGS.encode(), allow_missing_images=True)
    agreement_report_execute(report_id=agreement_report_request(study=study).pk)
    return study


def test_each_limit_has_an_interval_around_it_in_the_json(reported, client_for):
    data = client_for("alice").get(f"/studies/{reported.slug}/report.json").json()
    pair = data["scores"]["geographic_extent"]["bland_altman"][0]
    assert set(pair) >= {"mean_diff", "loa", "loa_lower_ci95", "loa_upper_ci95", "loa_ci_method"}
    for side, limit in (("lower", pair["loa"][0]), ("upper", pair["loa"][1])):
        low, high = pair[f"loa_{side}_ci95"]
        assert low < limit < high
        assert limit - low == pytest.approx(high - limit)


def test_the_page_and_the_csv_show_them(reported, client_for):
    client = client_for("alice")
    page = client.get(f"/studies/{reported.slug}/report/").content.decode()
    assert "95% CI, lower limit" in page and "√(3s²/n)" in page
    body = client.get(f"/studies/{reported.slug}/report.csv").content.decode()
    rows = [r for r in csv.DictReader(io.StringIO(body)) if r["score"] == "geographic_extent"]
    lower = next(r for r in rows if r["statistic"] == "bland_altman_loa_lower")
    upper = next(r for r in rows if r["statistic"] == "bland_altman_loa_upper")
    for row in (lower, upper):
        assert float(row["ci95_low"]) < float(row["value"]) < float(row["ci95_high"])
        assert row["n_cases"] == "10" and "Bland & Altman 1999" in row["note"]


def test_the_csv_has_the_bca_interval_next_to_the_percentile_one(reported, client_for):
    data = client_for("alice").get(f"/studies/{reported.slug}/report.json").json()
    alpha = data["scores"]["geographic_extent"]["krippendorff_alpha"]["interval"]
    body = client_for("alice").get(f"/studies/{reported.slug}/report.csv").content.decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    bca = next(
        r
        for r in rows
        if (r["score"], r["statistic"], r["variant"]) == ("geographic_extent", "krippendorff_alpha_bca", "interval")
    )
    assert [float(bca["ci95_low"]), float(bca["ci95_high"])] == pytest.approx(alpha["ci95_bca"], abs=1e-5)
    assert float(bca["value"]) == pytest.approx(alpha["value"], abs=1e-5)
