"""The exports say which value is the adjudicated final, and mark what is out of the analysis:

- the covid-severity scores export keeps the published columns (the raters' mean) and adds the
  final value, adjudicated where there is one, with `final_source`; it leaves excluded cases and the
  reads of a removed rater whose reads were dropped out;
- the consensus export lists excluded cases too, marked `excluded` 1 with their reason;
- the ratings export lists every read with `case_excluded` and `in_analysis`, and still imports back;
- the agreement report page says which value each export uses.
"""

import csv
import io

import pytest

from annotation.csv_io import ratings_csv_export, ratings_csv_import
from annotation.models import Rating
from annotation.services import adjudication_record, case_exclude, membership_set_adjudicator, rater_remove
from scoring.exports import consensus_csv, scores_covid_severity_export

RATERS = ("rater1", "rater2", "rater3", "oscar")
# Totals (geographic extent, opacity) are the sums of the two lungs.
RATINGS = """image,rater,extent_right,extent_left,opacity_right,opacity_left
a.png,rater1,1,1,1,1
a.png,rater2,1,1,1,1
a.png,rater3,1,1,1,1
b.png,rater1,0,0,0,0
b.png,rater2,4,4,3,3
b.png,rater3,1,1,1,1
c.png,rater1,2,2,1,1
c.png,rater2,2,2,1,1
c.png,rater3,2,2,1,1
d.png,rater1,2,2,1,1
d.png,rater2,2,2,1,1
d.png,rater3,2,2,1,1
d.png,oscar,4,4,3,3
"""
HEADER = "filename,geographic_mean,opacity_mean,geographic_final,opacity_final,final_source"


@pytest.fixture
def study(make_study, personas):
    """b.png adjudicated to 6 and 4 (the raters' totals span 8 points); c.png excluded."""
    study = make_study(n_cases=0, open_it=False, raters=RATERS)
    assert ratings_csv_import(study=study, data=RATINGS.encode(), allow_missing_images=True) == 13
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True)
    values = {"extent_right": 3, "extent_left": 3, "opacity_right": 2, "opacity_left": 2}
    adjudication_record(case=study.cases.get(original_filename="b.png"), adjudicator=personas["olivia"], values=values)
    case_exclude(case=study.cases.get(original_filename="c.png"), reason="wrong view: lateral", actor=personas["alice"])
    return study


def rows(text: str) -> dict[str, dict[str, str]]:
    return {row.get("image") or row["filename"]: row for row in csv.DictReader(io.StringIO(text))}


def ratings_rows(study) -> dict[tuple[str, str], dict[str, str]]:
    return {(row["image"], row["rater"]): row for row in csv.DictReader(io.StringIO(ratings_csv_export(study=study)))}


def test_the_scores_export_gives_the_adjudicated_final_beside_the_raters_mean_and_leaves_excluded_cases_out(study):
    assert scores_covid_severity_export(study=study).splitlines() == [
        HEADER,
        "a.png,2.0,2.0,2.0,2.0,consensus",
        "b.png,3.3,2.7,6.0,4.0,adjudicated",
        "d.png,5.0,3.0,5.0,3.0,consensus",  # (4 + 4 + 4 + 8) / 4 and (2 + 2 + 2 + 6) / 4
    ]


def test_a_removed_rater_s_dropped_reads_leave_the_scores_export_and_kept_ones_stay(study, personas):
    rater_remove(study=study, user=personas["oscar"], keep_ratings=False, actor=personas["alice"])
    assert scores_covid_severity_export(study=study).splitlines()[-1] == "d.png,4.0,2.0,4.0,2.0,consensus"

    study.memberships.filter(user=personas["oscar"]).update(ratings_kept=True)
    assert scores_covid_severity_export(study=study).splitlines()[-1] == "d.png,5.0,3.0,5.0,3.0,consensus"


def test_the_consensus_export_lists_an_excluded_case_marked_with_its_reason(study):
    by_image = rows(consensus_csv(study=study))

    assert list(by_image) == ["a.png", "b.png", "c.png", "d.png"]
    assert list(by_image["a.png"])[-4:] == ["final_source", "needs_adjudication", "excluded", "exclusion_reason"]
    excluded = by_image["c.png"]
    assert (excluded["excluded"], excluded["exclusion_reason"], excluded["needs_adjudication"]) == (
        "1",
        "wrong view: lateral",
        "no",
    )
    assert excluded["geographic_extent_final"] == "4" and excluded["final_source"] == "consensus"
    assert {image: row["excluded"] for image, row in by_image.items() if image != "c.png"} == {
        "a.png": "0",
        "b.png": "0",
        "d.png": "0",
    }
    adjudicated = by_image["b.png"]
    assert (adjudicated["geographic_extent_adjudicated"], adjudicated["geographic_extent_final"]) == ("6", "6")
    assert adjudicated["final_source"] == "adjudicated" and adjudicated["exclusion_reason"] == ""


def test_the_ratings_export_marks_each_read_in_or_out_of_the_analysis(study, personas):
    rater_remove(study=study, user=personas["oscar"], keep_ratings=False, actor=personas["alice"])

    by_read = ratings_rows(study)

    assert len(by_read) == 13  # every read is listed, also those out of the analysis
    marks = {read: (row["case_excluded"], row["in_analysis"]) for read, row in by_read.items()}
    assert {read for read, mark in marks.items() if mark == ("1", "0")} == {
        ("c.png", "rater1"),
        ("c.png", "rater2"),
        ("c.png", "rater3"),
    }
    assert marks[("d.png", "oscar")] == ("0", "0")
    assert {mark for read, mark in marks.items() if read[0] != "c.png" and read[1] != "oscar"} == {("0", "1")}

    study.memberships.filter(user=personas["oscar"]).update(ratings_kept=True)
    assert ratings_rows(study)[("d.png", "oscar")]["in_analysis"] == "1"


def test_a_ratings_export_with_those_columns_imports_back_unchanged(study):
    exported = ratings_csv_export(study=study)
    assert "case_excluded" in exported.splitlines()[0] and "in_analysis" in exported.splitlines()[0]
    before = {read: row for read, row in ratings_rows(study).items()}

    assert ratings_csv_import(study=study, data=exported.encode()) == 13

    after = ratings_rows(study)
    assert Rating.objects.filter(revision=2).count() == 13
    unchanged = ("extent_right", "extent_left", "opacity_right", "opacity_left", "case_excluded", "in_analysis")
    assert {read: [row[key] for key in unchanged] for read, row in after.items()} == {
        read: [row[key] for key in unchanged] for read, row in before.items()
    }


def test_the_report_page_says_which_value_each_export_uses(study, client_for):
    owner = client_for("alice").get(f"/studies/{study.slug}/report/").content.decode()

    assert "What the exports contain" in owner
    assert "<code>final_source</code> saying <code>adjudicated</code> or <code>consensus</code>" in owner
    assert "<code>geographic_final</code>, <code>opacity_final</code> and <code>final_source</code>" in owner
    assert "Excluded cases are left out." in owner and "marked <code>excluded</code> 1" in owner
    assert "1 excluded case is left out of this report and of the adjudication queue." in owner
    assert f'href="/studies/{study.slug}/export/scores.csv"' in owner

    adjudicator = client_for("olivia").get(f"/studies/{study.slug}/report/").content.decode()
    assert "Consensus (CSV)</strong>" in adjudicator and "covid-severity CSV" not in adjudicator
    assert "<code>in_analysis</code>" not in adjudicator  # the ratings export is the owner's


def test_an_observer_who_does_not_adjudicate_reads_no_export_note(study, client_for, personas):
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=False)
    page = client_for("olivia").get(f"/studies/{study.slug}/report/").content.decode()
    assert "What the exports contain" not in page
