"""The report CSV gives, for every pairwise statistic (each rater pair's weighted kappa and
Bland-Altman rows), the number of cases that pair both read (issue 15, Reporting)."""

import csv
import io

import pytest

from annotation.csv_io import ratings_csv_import
from scoring.services import agreement_report_execute, agreement_report_request

# 12 cases; rater1 reads all of them, rater2 cases 0-8, rater3 cases 4-11: the pairs share 9, 8 and 5.
READS = {"rater1": range(12), "rater2": range(9), "rater3": range(4, 12)}
RATINGS = "image,rater,extent_right,extent_left,opacity_right,opacity_left\n" + "\n".join(
    f"c{i}.png,{rater},{(i + r) % 5},{(i * 2 + r) % 5},{i % 4},{(i + r) % 4}"
    for r, (rater, cases) in enumerate(READS.items())
    for i in cases
)
BOTH = {("rater1", "rater2"): 9, ("rater1", "rater3"): 8, ("rater2", "rater3"): 5}


@pytest.fixture
def rows(make_study, client_for) -> list[dict]:
    study = make_study(n_cases=0, open_it=False, raters=tuple(READS), raters_per_case=2)
    ratings_csv_import(study=study, data=RATINGS.encode(), allow_missing_images=True)
    agreement_report_execute(report_id=agreement_report_request(study=study).pk)
    text = client_for("alice").get(f"/studies/{study.slug}/report.csv").content.decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_each_pairs_kappa_row_has_the_cases_both_read(rows):
    for score in ("geographic_extent", "opacity", "extent_left"):
        pairs = [
            r for r in rows if r["score"] == score and r["statistic"] == "weighted_kappa" and " vs " in r["variant"]
        ]
        assert {tuple(r["variant"].split(" vs ")): int(r["n_cases"]) for r in pairs} == BOTH


def test_each_pairs_bland_altman_rows_have_the_cases_both_read(rows):
    limits = [
        r
        for r in rows
        if r["score"] == "geographic_extent"
        and r["statistic"].startswith("bland_altman")
        and "consensus" not in r["variant"]
    ]
    assert len(limits) == 3 * 3  # mean difference and both limits, for each pair of raters
    for r in limits:
        assert int(r["n_cases"]) == BOTH[tuple(r["variant"].split(" - "))]


def test_the_json_pairs_carry_the_same_n(make_study, client_for):
    study = make_study(n_cases=0, open_it=False, raters=tuple(READS), raters_per_case=2)
    ratings_csv_import(study=study, data=RATINGS.encode(), allow_missing_images=True)
    agreement_report_execute(report_id=agreement_report_request(study=study).pk)
    data = client_for("alice").get(f"/studies/{study.slug}/report.json").json()
    pairs = data["scores"]["opacity"]["weighted_kappa"]["pairs"]
    assert {tuple(p["raters"]): p["n"] for p in pairs} == BOTH
