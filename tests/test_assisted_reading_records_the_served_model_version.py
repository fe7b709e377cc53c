"""An aided read serves the active model's pre-score on the page and over the API alike, and its
rating records the version served: a submission must name that version (checked on the server
against what it serves now), and an aided read whose hint cannot be served is not scored at all.
An unaided read carries nothing about the model."""

import re

import pytest

from annotation.models import Assignment, Rating, Study
from annotation.services import images_import, membership_add, study_create, study_open, study_update
from reading.selectors import HINT_NOT_SERVED
from scoring.model.heads import paper_head
from scoring.models import ModelVersion, Prediction
from tests.api_support import API, api_client, error_of
from tests.conftest import COHEN_VALUES, image_sources

HINT = {"geographic_extent": 4.4, "opacity": 2.75}
MODEL_FIELDS = {"aided", "model_hint", "model_version"}


def _study(personas, *, mode: str) -> Study:
    study = study_create(owner=personas["alice"], slug="aided", title="Aided", rubric="cohen2020")
    study_update(
        study=study, title="Aided", rubric="cohen2020", raters_per_case=3, model_assistance=mode, crossover_gap=1
    )
    for name in ("rater1", "rater2", "rater3"):
        membership_add(study=study, user=personas[name], role="rater")
    images_import(study=study, sources=image_sources(4))
    study_open(study=study)
    return study


def _version(study: Study, *, number: int = 1, active: bool = True, values: dict = HINT) -> ModelVersion:
    version = ModelVersion.objects.create(
        study=study,
        number=number,
        backbone="densenet121-res224-all",
        feature_set="lung_opacity",
        head=paper_head().to_dict(),
        is_active=active,
    )
    Prediction.objects.bulk_create(
        [Prediction(case=case, model_version=version, values=values) for case in study.cases.all()]
    )
    return version


def _first(study: Study, user, *, aided: bool) -> Assignment:
    return Assignment.objects.filter(study=study, rater=user, aided=aided).order_by("order_key").first()


def _submit(client, assignment: Assignment, **extra):
    body = {"values": COHEN_VALUES, **extra}
    return client.post(f"{API}/assignments/{assignment.public_id}/ratings/", body, format="json")


@pytest.fixture
def rater(personas):
    return api_client(personas["rater1"])


def test_queue_next_serves_an_aided_read_the_hint_the_page_shows(personas, rater, client_for):
    study = _study(personas, mode="shown")
    _version(study)
    case = rater.get(f"{API}/studies/aided/queue/next/").json()
    assert (case["aided"], case["model_hint"], case["model_version"]) == (True, HINT, 1)
    page = client_for("rater1").get(f"/read/{case['id']}/").content.decode()
    assert "4.4" in page and 'name="model_version_shown" value="1"' in page


def test_an_unaided_read_carries_nothing_about_the_model(personas, rater):
    study = _study(personas, mode="none")
    _version(study)
    case = rater.get(f"{API}/studies/aided/queue/next/").json()
    assert not MODEL_FIELDS & set(case) and "4.4" not in str(case)
    crossover = _study_crossover(personas)
    unaided = _first(crossover, personas["rater1"], aided=False)
    aided = _first(crossover, personas["rater1"], aided=True)
    assert not MODEL_FIELDS & set(rater.get(f"{API}/assignments/{unaided.public_id}/").json())
    assert rater.get(f"{API}/assignments/{aided.public_id}/").json()["model_hint"] == HINT


def _study_crossover(personas) -> Study:
    study = study_create(owner=personas["alice"], slug="cross", title="Cross", rubric="cohen2020")
    study_update(
        study=study, title="Cross", rubric="cohen2020", raters_per_case=1, model_assistance="crossover", crossover_gap=1
    )
    membership_add(study=study, user=personas["rater1"], role="rater")
    images_import(study=study, sources=image_sources(3, start=50))
    study_open(study=study)
    _version(study)
    return study


def test_an_api_rating_records_the_version_served(personas, rater):
    study = _study(personas, mode="shown")
    version = _version(study)
    assignment = _first(study, personas["rater1"], aided=True)
    response = _submit(rater, assignment, model_version_shown=1)
    assert response.status_code == 201
    rating = Rating.objects.get()
    assert (rating.model_version_shown, rating.source) == (version, Rating.Source.API)


@pytest.mark.parametrize(
    "shown, message",
    [(None, "model_version_shown"), (2, "not the one served"), (9, "not the one served")],
    ids=["missing", "an-inactive-version", "no-such-version"],
)
def test_an_api_rating_naming_another_version_than_the_one_served_is_refused(personas, rater, shown, message):
    study = _study(personas, mode="shown")
    _version(study)
    _version(study, number=2, active=False, values={"geographic_extent": 1.0, "opacity": 1.0})
    assignment = _first(study, personas["rater1"], aided=True)
    response = _submit(rater, assignment, **({} if shown is None else {"model_version_shown": shown}))
    assert response.status_code == 400
    assert message in error_of(response)["message"]
    assert not Rating.objects.exists()


def test_a_version_served_before_a_promotion_is_refused_after_it(personas, rater):
    study = _study(personas, mode="shown")
    first = _version(study)
    assignment = _first(study, personas["rater1"], aided=True)
    assert rater.get(f"{API}/assignments/{assignment.public_id}/").json()["model_version"] == 1
    ModelVersion.objects.filter(pk=first.pk).update(is_active=False)
    _version(study, number=2, values={"geographic_extent": 1.0, "opacity": 1.0})
    response = _submit(rater, assignment, model_version_shown=1)
    assert response.status_code == 400 and "reload the case" in error_of(response)["message"]
    assert _submit(rater, assignment, model_version_shown=2).status_code == 201


def test_an_unaided_read_naming_a_version_is_refused(personas, rater):
    study = _study(personas, mode="none")
    _version(study)
    response = _submit(rater, _first(study, personas["rater1"], aided=False), model_version_shown=1)
    assert response.status_code == 400 and "unaided read" in error_of(response)["message"]
    assert not Rating.objects.exists()


@pytest.mark.parametrize("state", ["no-model", "no-prediction-for-the-case"])
def test_an_aided_read_without_the_hint_served_is_refused_on_the_api(personas, rater, state):
    study = _study(personas, mode="shown")
    assignment = _first(study, personas["rater1"], aided=True)
    if state == "no-prediction-for-the-case":
        _version(study)
        Prediction.objects.filter(case=assignment.case).delete()
    case = rater.get(f"{API}/assignments/{assignment.public_id}/").json()
    assert (case["aided"], case["model_hint"], case["model_version"]) == (True, None, None)
    for extra in ({}, {"model_version_shown": 1}):
        response = _submit(rater, assignment, **extra)
        assert response.status_code == 409
        assert error_of(response) == {"code": "model_hint_not_served", "message": HINT_NOT_SERVED, "fields": {}}
    assert not Rating.objects.exists()


def test_an_aided_read_retried_with_its_key_is_answered_with_the_stored_revision(personas, rater):
    study = _study(personas, mode="shown")
    _version(study)
    assignment = _first(study, personas["rater1"], aided=True)
    url = f"{API}/assignments/{assignment.public_id}/ratings/"
    body = {"values": COHEN_VALUES, "model_version_shown": 1}
    first = rater.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    again = rater.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
    assert Rating.objects.count() == 1


# The reading page: the same check, in the same selector.


def _post(client, assignment: Assignment, **extra):
    return client.post(f"/read/{assignment.public_id}/", {**COHEN_VALUES, **extra})


def test_the_page_stores_the_version_it_served(personas, client_for):
    study = _study(personas, mode="shown")
    version = _version(study)
    assignment = _first(study, personas["rater1"], aided=True)
    assert _post(client_for("rater1"), assignment, model_version_shown="1").status_code == 302
    assert Rating.objects.get().model_version_shown == version


@pytest.mark.parametrize("shown", [None, "2"], ids=["missing", "an-inactive-version"])
def test_the_page_refuses_a_version_it_did_not_serve(personas, client_for, shown):
    study = _study(personas, mode="shown")
    _version(study)
    _version(study, number=2, active=False)
    assignment = _first(study, personas["rater1"], aided=True)
    response = _post(client_for("rater1"), assignment, **({} if shown is None else {"model_version_shown": shown}))
    assert response.status_code == 400
    assert "model_version_shown" in response.content.decode() or "not the one served" in response.content.decode()
    assert not Rating.objects.exists()


def test_the_page_of_an_aided_read_without_the_hint_cannot_be_scored(personas, client_for):
    study = _study(personas, mode="shown")
    assignment = _first(study, personas["rater1"], aided=True)
    client = client_for("rater1")
    page = client.get(f"/read/{assignment.public_id}/").content.decode()
    assert "no model pre-score is available" in page and "cannot be scored now" in page
    assert 'id="submit"' not in page and "data-read-only" in page and 'id="flag-form"' in page
    assert all("disabled" in radio for radio in re.findall(r'<input type="radio" name="extent_\w+"[^>]*>', page))
    response = _post(client, assignment)
    assert response.status_code == 400 and HINT_NOT_SERVED in response.content.decode()
    assert not Rating.objects.exists()
