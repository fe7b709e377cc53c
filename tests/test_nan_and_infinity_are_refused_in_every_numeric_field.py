"""NaN, infinity and out-of-range floats in every numeric field a person or script can send (pages
and API): a clear refusal, never a 500 (PostgreSQL's JSON cannot hold NaN), and nothing stored.

Reading time is the one exception by design: the page measures it, so a value it could not have
sent is dropped from the rating rather than refusing the scores (reading/views.py); the API, whose
client sends it on purpose, refuses it.
"""

import json

import pytest

from annotation.csv_io import ratings_csv_import
from annotation.models import Adjudication, Rating, Study
from scoring.models import ModelJob
from tests.api_support import API, api_client
from tests.conftest import COHEN_VALUES

BAD_NUMBERS = ["nan", "NaN", "inf", "-Infinity", "1e400", "-1e400"]
RATINGS = """image,rater,extent_right,extent_left,opacity_right,opacity_left
b.png,rater1,0,0,0,0
b.png,rater2,4,4,3,3
b.png,rater3,1,1,1,1
"""


@pytest.fixture
def open_study(make_study):
    return make_study(n_cases=2)


@pytest.fixture
def adjudication_study(make_study, personas, client_for):
    study = make_study(n_cases=0, open_it=False, slug="adj")
    ratings_csv_import(study=study, data=RATINGS.encode(), allow_missing_images=True)
    olivia = study.memberships.get(user=personas["olivia"])
    client_for("alice").post(f"/studies/{study.slug}/members/{olivia.public_id}/adjudicator/", {"allowed": "1"})
    return study


def _json(payload: dict) -> str:
    return json.dumps(payload, allow_nan=True)


def _no_server_error(response):
    assert response.status_code < 500, response.content[:500]


@pytest.mark.parametrize("bad", BAD_NUMBERS)
def test_pages_refuse_them(bad, personas, client_for, open_study, adjudication_study):
    owner = client_for("alice")
    study_fields = {"raters_per_case": "3", "adjudication_range": "3", "crossover_gap": "0"}

    response = owner.post(
        "/studies/new/", {"slug": "new-one", "title": "x", "rubric": "cohen2020", "raters_per_case": bad}
    )
    _no_server_error(response)
    assert not Study.objects.filter(slug="new-one").exists()

    before = Study.objects.values().get(pk=open_study.pk)
    for field in study_fields:
        response = owner.post(f"/studies/{open_study.slug}/settings/", {**study_fields, field: bad}, follow=True)
        _no_server_error(response)
        assert Study.objects.values().get(pk=open_study.pk) == before

    response = owner.post(
        f"/studies/{open_study.slug}/model/retrain/", {"feature_set": "lung_opacity", "ridge": bad}, follow=True
    )
    _no_server_error(response)
    assert "Not queued: the ridge penalty must be a positive number" in response.content.decode()
    assert ModelJob.objects.count() == 0

    rater = client_for("rater1")
    assignment = open_study.assignments.filter(rater=personas["rater1"]).first()
    for field in COHEN_VALUES:
        response = rater.post(f"/read/{assignment.public_id}/", {**COHEN_VALUES, field: bad})
        assert response.status_code == 400, response.content[:300]
    assert Rating.objects.filter(assignment__study=open_study).count() == 0

    case = adjudication_study.cases.get(original_filename="b.png")
    adjudicator = client_for("olivia")
    for field in COHEN_VALUES:
        response = adjudicator.post(f"/studies/adj/adjudicate/{case.public_id}/", {**COHEN_VALUES, field: bad})
        _no_server_error(response)
    assert Adjudication.objects.count() == 0


@pytest.mark.parametrize("bad", BAD_NUMBERS)
def test_a_reading_time_the_page_could_not_have_measured_is_dropped(bad, personas, client_for, open_study):
    assignment = open_study.assignments.filter(rater=personas["rater1"]).first()
    response = client_for("rater1").post(f"/read/{assignment.public_id}/", {**COHEN_VALUES, "reading_time_s": bad})
    assert response.status_code == 302
    assert Rating.objects.get(assignment=assignment).reading_time_s is None


@pytest.mark.parametrize("bad", [*BAD_NUMBERS, float("nan"), float("inf")])
def test_the_api_refuses_them_with_a_400(bad, personas, open_study, adjudication_study):
    owner = api_client(personas["alice"])
    # Encoded here, not by the test client: NaN and Infinity as JSON literals are what a careless
    # client (Python's json.dumps, JavaScript's) sends.
    as_json = {"content_type": "application/json"}

    def refused(response):
        assert response.status_code == 400, response.content[:500]
        assert response.json()["error"]["code"] in ("invalid", "invalid_values", "parse_error"), response.json()

    refused(owner.post(f"{API}/studies/", _json({"slug": "new-one", "title": "x", "raters_per_case": bad}), **as_json))
    for field in ("raters_per_case", "adjudication_range", "crossover_gap"):
        refused(owner.patch(f"{API}/studies/{open_study.slug}/", _json({field: bad}), **as_json))
    refused(
        owner.post(
            f"{API}/studies/{open_study.slug}/jobs/",
            _json({"kind": "retrain", "feature_set": "lung_opacity", "ridge_alpha": bad}),
            **as_json,
        )
    )
    assert ModelJob.objects.count() == 0

    rater = api_client(personas["rater1"])
    assignment = open_study.assignments.filter(rater=personas["rater1"]).first()
    url = f"{API}/assignments/{assignment.public_id}/ratings/"
    for field in COHEN_VALUES:
        refused(rater.post(url, _json({"values": {**COHEN_VALUES, field: bad}}), **as_json))
    refused(rater.post(url, _json({"values": COHEN_VALUES, "reading_time_s": bad}), **as_json))
    assert Rating.objects.filter(assignment__study=open_study).count() == 0

    case = adjudication_study.cases.get(original_filename="b.png")
    adjudicator = api_client(personas["olivia"])
    for field in COHEN_VALUES:
        refused(
            adjudicator.post(
                f"{API}/studies/adj/adjudications/{case.public_id}/",
                _json({"values": {**COHEN_VALUES, field: bad}}),
                **as_json,
            )
        )
    assert Adjudication.objects.count() == 0
