"""The agreement report, consensus and adjudication over the API: asked for with a POST, 202 while
computing, then the JSON; a GET never starts the computation."""

import pytest

from annotation.csv_io import ratings_csv_import
from annotation.models import Case
from annotation.services import study_lock
from scoring.models import AgreementReport
from tests.api_support import API, api_client, error_of

RATINGS = """image,rater,extent_right,extent_left,opacity_right,opacity_left
a.png,rater1,1,1,1,1
a.png,rater2,1,2,1,1
a.png,rater3,2,1,1,1
b.png,rater1,0,0,0,0
b.png,rater2,4,4,3,3
b.png,rater3,1,1,1,1
"""
FINAL = {"extent_right": 2, "extent_left": 2, "opacity_right": 1, "opacity_left": 1}


@pytest.fixture
def study(make_study):
    study = make_study(n_cases=0, open_it=False)
    ratings_csv_import(study=study, data=RATINGS.encode(), allow_missing_images=True)
    return study


def test_report_is_202_while_computing_then_the_json(study, personas, django_capture_on_commit_callbacks):
    client = api_client(personas["olivia"])  # observers read the report, as on the page
    not_asked = client.get(f"{API}/studies/s1/report/")
    assert not_asked.status_code == 409 and error_of(not_asked)["code"] == "report_not_requested"
    assert not AgreementReport.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):  # the worker runs after this request (eager)
        pending = client.post(f"{API}/studies/s1/report/")
    assert pending.status_code == 202 and pending["Retry-After"] == "2"
    assert pending["Location"].endswith("/api/v1/studies/s1/report/")
    assert pending.json() == {"status": "queued", "done": 0, "total": 0, "error": None}
    report = client.get(f"{API}/studies/s1/report/").json()
    assert (report["study"], report["n_cases"], report["n_raters"], report["n_ratings"]) == ("s1", 2, 3, 6)
    assert report["adjudication"]["pending"] == 1 and "geographic_extent" in report["scores"]
    as_csv = client.get(f"{API}/studies/s1/report.csv")
    assert as_csv["Content-Type"].startswith("text/csv")
    assert as_csv.content.decode().startswith("score,statistic,variant,value,ci95_low,ci95_high,n_cases,note\n")


def test_a_failed_report_says_why_in_the_error_shape(study, personas):
    client = api_client(personas["alice"])
    client.post(f"{API}/studies/s1/report/")
    AgreementReport.objects.update(status=AgreementReport.Status.FAILED, error="ValueError: boom")
    response = client.get(f"{API}/studies/s1/report/")
    assert response.status_code == 500  # as the page's report.json: the computation failed
    assert error_of(response) == {"code": "report_failed", "message": "ValueError: boom", "fields": {}}
    again = client.post(f"{API}/studies/s1/report/")  # the same ratings: the same failed report
    assert again.status_code == 500 and AgreementReport.objects.count() == 1


def test_consensus_lists_cases_and_filters_the_adjudication_queue(study, personas):
    client = api_client(personas["alice"])
    rows = client.get(f"{API}/studies/s1/consensus/").json()["results"]
    assert [(r["filename"], r["n_raters"], r["needs_adjudication"]) for r in rows] == [
        ("a.png", 3, False),
        ("b.png", 3, True),
    ]
    assert rows[0]["consensus"]["geographic_extent"] == pytest.approx(8 / 3)
    queue = client.get(f"{API}/studies/s1/consensus/?needs_adjudication=true").json()["results"]
    assert [r["filename"] for r in queue] == ["b.png"]
    lines = client.get(f"{API}/studies/s1/exports/consensus.csv").content.decode().splitlines()
    assert lines[0].startswith("image,case_id,n_raters,geographic_extent_consensus_mean") and len(lines) == 3


def test_an_adjudicator_records_a_final_score_that_leaves_the_queue(study, personas):
    owner = api_client(personas["alice"])
    olivia = study.memberships.get(user=personas["olivia"])
    owner.patch(f"{API}/studies/s1/members/{olivia.public_id}/", {"can_adjudicate": True}, format="json")
    case = Case.objects.get(study=study, original_filename="b.png")
    client = api_client(personas["olivia"])
    detail = client.get(f"{API}/studies/s1/adjudications/{case.public_id}/").json()
    assert detail["consensus"]["needs_adjudication"] and detail["latest"] is None and detail["can_adjudicate"]
    assert [(r["rater"], r["totals"]["geographic_extent"]) for r in detail["ratings"]] == [
        ("rater1", 0),
        ("rater2", 8),
        ("rater3", 2),
    ]
    recorded = client.post(
        f"{API}/studies/s1/adjudications/{case.public_id}/", {"values": FINAL, "note": "reviewed"}, format="json"
    )
    assert recorded.status_code == 201 and recorded.json()["totals"] == {"geographic_extent": 4, "opacity": 2}
    assert owner.get(f"{API}/studies/s1/consensus/?needs_adjudication=true").json()["results"] == []
    row = owner.get(f"{API}/studies/s1/adjudications/{case.public_id}/").json()
    assert row["latest"]["note"] == "reviewed" and row["consensus"]["final_source"] == "adjudicated"


def test_owner_without_the_right_cannot_record_and_a_locked_study_refuses(study, personas):
    case = Case.objects.get(study=study, original_filename="b.png")
    url = f"{API}/studies/s1/adjudications/{case.public_id}/"
    owner = api_client(personas["alice"])
    assert owner.post(url, {"values": FINAL}, format="json").status_code == 404  # as the page
    study.memberships.filter(user=personas["alice"]).update(can_adjudicate=True)
    bad = owner.post(url, {"values": {"extent_right": 7}}, format="json")
    assert bad.status_code == 400 and error_of(bad)["code"] == "invalid_values"
    study_lock(study=study)
    locked = owner.post(url, {"values": FINAL}, format="json")
    assert locked.status_code == 409 and error_of(locked)["code"] == "study_state"


def test_raters_get_404_for_report_consensus_and_adjudication(study, personas):
    client = api_client(personas["rater2"])
    case = Case.objects.get(study=study, original_filename="b.png")
    for path in ("report/", "report.csv", "consensus/", "exports/consensus.csv", f"adjudications/{case.public_id}/"):
        assert client.get(f"{API}/studies/s1/{path}").status_code == 404, path
