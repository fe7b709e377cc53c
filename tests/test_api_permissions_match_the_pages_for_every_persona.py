"""Every API endpoint, asked by the owner, a rater, the observer, an outsider, a coordinator who is an
outsider to the study, and anonymously.

The same answers as the pages: 404 for anything not yours (never 403), 401 without credentials. And a
rater's answers never contain another rater's scores or existence, a filename, metadata or case id.
"""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import Assignment
from annotation.services import assignment_flag, cases_apply_metadata, import_job_create, rating_submit
from scoring.services import model_job_start, model_version_ensure_initial
from tests.api_support import API, api_client, error_of
from tests.conftest import COHEN_VALUES, png_bytes, zip_bytes

SECRET_NOTE = "Patient-identifying clinical note 4711"
# owner (a coordinator), rater, observer, outsider, another coordinator, anonymous
PERSONAS = ("alice", "rater1", "olivia", "oscar", "cora", None)


@pytest.fixture
def ctx(make_study, personas):
    """A study with metadata, rater2's distinctive scores, one flag, one queued import, the published
    model head as version 1 and one queued pre-score job."""
    study = make_study(n_cases=3)
    cases_apply_metadata(
        study=study,
        metadata={
            c.original_filename: {
                "filename": c.original_filename,
                "patientid": "PID-XYZ-99",
                "clinical_notes": SECRET_NOTE,
            }
            for c in study.cases.all()
        },
    )
    for assignment in Assignment.objects.filter(study=study, rater=personas["rater2"]):
        rating_submit(
            assignment=assignment, values={"extent_right": 4, "extent_left": 4, "opacity_right": 3, "opacity_left": 3}
        )
    flagged = Assignment.objects.filter(study=study, rater=personas["rater3"]).first()
    assignment_flag(assignment=flagged, reason="other", note="rater3 note")
    job = import_job_create(study=study, user=personas["alice"], files=[SimpleUploadedFile("x.png", png_bytes(99))])
    own = Assignment.objects.filter(study=study, rater=personas["rater1"]).order_by("order_key").first()
    version = model_version_ensure_initial(study=study)
    model_job = model_job_start(study=study, kind="prescore", user=personas["alice"], dispatch=False)
    return {
        "study": study,
        "slug": study.slug,
        "case": study.cases.order_by("pk").first().public_id,
        "assignment": own.public_id,
        "member": study.memberships.get(user=personas["olivia"]).public_id,
        "job": job.pk,
        "version": version.number,
        "model_job": model_job.pk,
    }


def _upload():
    return {
        "files": [SimpleUploadedFile("more.zip", zip_bytes({"new.png": png_bytes(77)}), content_type="application/zip")]
    }


def _bad_csv():
    return {"file": SimpleUploadedFile("r.csv", b"image,rater\nnope.png,rater1\n", content_type="text/csv")}


# method, path, body (or a callable for multipart), expected status for (owner, rater, observer, outsider, anonymous)
ENDPOINTS = [
    ("get", "/auth/me/", None, (200, 200, 200, 200, 200, 401)),
    ("post", "/auth/token/", None, (201, 201, 201, 201, 201, 401)),
    ("delete", "/auth/token/", None, (204, 204, 204, 204, 204, 401)),
    ("get", "/rubrics/", None, (200, 200, 200, 200, 200, 401)),
    ("get", "/studies/", None, (200, 200, 200, 200, 200, 401)),
    # Only coordinators create studies: 403 before the input is read (no slug oracle).
    ("post", "/studies/", "new-study", (201, 403, 403, 403, 201, 401)),
    ("get", "/studies/{slug}/", None, (200, 404, 200, 404, 404, 401)),
    ("patch", "/studies/{slug}/", {"title": "Renamed"}, (200, 404, 404, 404, 404, 401)),
    ("post", "/studies/{slug}/open/", None, (200, 404, 404, 404, 404, 401)),
    ("post", "/studies/{slug}/lock/", None, (200, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/members/", None, (200, 404, 404, 404, 404, 401)),
    ("post", "/studies/{slug}/members/", {"username": "newbie", "role": "rater"}, (201, 404, 404, 404, 404, 401)),
    ("patch", "/studies/{slug}/members/{member}/", {"can_adjudicate": True}, (200, 404, 404, 404, 404, 401)),
    # olivia has a password already: no invitation to renew.
    ("post", "/studies/{slug}/members/{member}/invitation/", None, (409, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/cases/", None, (200, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/cases/{case}/", None, (200, 404, 404, 404, 404, 401)),
    # the case has ratings: it stays (409), and only its owner learns that
    ("delete", "/studies/{slug}/cases/{case}/", None, (409, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/cases/{case}/image.png", None, (200, 404, 404, 404, 404, 401)),
    # repairs: owners only (the case has reads: excluded it stays, with them)
    ("post", "/studies/{slug}/cases/{case}/exclusion/", {"reason": "lateral view"}, (200, 404, 404, 404, 404, 401)),
    ("delete", "/studies/{slug}/cases/{case}/exclusion/", None, (409, 404, 404, 404, 404, 401)),  # not excluded
    # olivia observes: only a rater can be removed or replaced (409), and only her owner learns that
    ("post", "/studies/{slug}/members/{member}/removal/", None, (409, 404, 404, 404, 404, 401)),
    ("post", "/studies/{slug}/members/{member}/replacement/", {"new": "cora"}, (409, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/imports/", None, (200, 404, 404, 404, 404, 401)),
    ("post", "/studies/{slug}/imports/", _upload, (202, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/imports/{job}/", None, (200, 404, 404, 404, 404, 401)),
    ("post", "/studies/{slug}/ratings/import/", _bad_csv, (400, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/flags/", None, (200, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/exports/ratings/", None, (200, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/exports/ratings.csv", None, (200, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/exports/scores.csv", None, (200, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/report/", None, (409, 404, 409, 404, 404, 401)),  # not asked for yet
    ("post", "/studies/{slug}/report/", None, (202, 404, 202, 404, 404, 401)),
    ("get", "/studies/{slug}/report.csv", None, (409, 404, 409, 404, 404, 401)),
    ("get", "/studies/{slug}/consensus/", None, (200, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/exports/consensus.csv", None, (200, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/adjudications/{case}/", None, (200, 404, 404, 404, 404, 401)),
    # Recording a final score needs the adjudicator right, which nobody here has yet.
    ("post", "/studies/{slug}/adjudications/{case}/", {"values": COHEN_VALUES}, (404, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/model-versions/", None, (200, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/model-versions/{version}/", None, (200, 404, 404, 404, 404, 401)),
    ("post", "/studies/{slug}/model-versions/{version}/activate/", None, (200, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/jobs/", None, (200, 404, 404, 404, 404, 401)),
    # Queued only: the test transaction is never committed, so no worker is told (and none needs weights).
    ("post", "/studies/{slug}/jobs/", {"kind": "retrain", "feature_set": "none"}, (202, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/jobs/{model_job}/", None, (200, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/predictions/", None, (200, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/exports/predictions.csv", None, (200, 404, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/queue/next/", None, (404, 200, 404, 404, 404, 401)),
    ("get", "/studies/{slug}/queue/mine/", None, (404, 200, 404, 404, 404, 401)),
    ("get", "/assignments/{assignment}/", None, (404, 200, 404, 404, 404, 401)),
    ("get", "/assignments/{assignment}/image.png", None, (404, 200, 404, 404, 404, 401)),
    ("get", "/assignments/{assignment}/ratings/", None, (404, 200, 404, 404, 404, 401)),
    ("post", "/assignments/{assignment}/ratings/", {"values": COHEN_VALUES}, (404, 201, 404, 404, 404, 401)),
    ("post", "/assignments/{assignment}/flag/", {"reason": "wrong_view"}, (404, 200, 404, 404, 404, 401)),
]


def _call(client, method: str, path: str, body, persona):
    if callable(body):
        return getattr(client, method)(API + path, body(), format="multipart")
    if body == "new-study":
        body = {"slug": f"new-{persona or 'anon'}", "title": "New", "rubric": "cohen2020"}
    return getattr(client, method)(API + path, body, format="json")


@pytest.mark.parametrize(("method", "path", "body", "expected"), ENDPOINTS, ids=[f"{m} {p}" for m, p, *_ in ENDPOINTS])
@pytest.mark.parametrize(
    "persona", PERSONAS, ids=["owner", "rater", "observer", "outsider", "coordinator", "anonymous"]
)
def test_each_persona_gets_the_pages_answer(ctx, personas, method, path, body, expected, persona):
    client = api_client(personas[persona] if persona else None)
    response = _call(client, method, path.format(**ctx), body, persona)
    assert response.status_code == expected[PERSONAS.index(persona)], response.content[:300]
    if response.status_code >= 400:
        error_of(response)  # the one error shape, whatever went wrong


def test_every_api_route_has_a_row_above():
    from config import api_urls

    placeholders = {
        "{slug}": "<slug:slug>",
        "{case}": "<slug:case_id>",
        "{member}": "<slug:member_id>",
        "{job}": "<int:job_id>",
        "{assignment}": "<slug:assignment_id>",
        "{version}": "<int:number>",
        "{model_job}": "<int:model_job_id>",
    }
    covered = set()
    for _, path, *_ in ENDPOINTS:
        for placeholder, converter in placeholders.items():
            path = path.replace(placeholder, converter)
        covered.add(path.lstrip("/"))
    routes = {str(pattern.pattern) for pattern in api_urls.urlpatterns}
    # auth/login/ is open to anyone: tested in test_api_tokens_profile_and_throttling.py
    assert routes - covered == {"auth/login/"}


# --- blinding ------------------------------------------------------------------------------------


def _forbidden(ctx, personas) -> list[str]:
    study = ctx["study"]
    out = ["rater2", "rater3", "PID-XYZ-99", SECRET_NOTE, "img-0", "rater3 note"]
    out += list(study.cases.values_list("public_id", flat=True))
    out += list(
        Assignment.objects.filter(study=study).exclude(rater=personas["rater1"]).values_list("public_id", flat=True)
    )
    return out


def test_rater_answers_carry_no_other_rater_filename_metadata_or_case_id(ctx, personas):
    client = api_client(personas["rater1"])
    forbidden = _forbidden(ctx, personas)
    own = Assignment.objects.filter(study=ctx["study"], rater=personas["rater1"])
    paths = ["/auth/me/", "/studies/", f"/studies/{ctx['slug']}/queue/next/", f"/studies/{ctx['slug']}/queue/mine/"]
    for assignment in own:
        paths += [f"/assignments/{assignment.public_id}/", f"/assignments/{assignment.public_id}/ratings/"]
    for path in paths:
        response = client.get(API + path)
        assert response.status_code == 200, path
        body = response.content.decode()
        for text in forbidden:
            assert text not in body, f"{path} leaks {text!r}"
        for value in response.headers.values():
            assert "img-0" not in value and "rater2" not in value
        assert '"extent_right":4' not in body.replace(" ", "")  # rater2's scores


def test_rater_submission_and_flag_answers_carry_nothing_of_others(ctx, personas):
    client = api_client(personas["rater1"])
    forbidden = _forbidden(ctx, personas)
    submitted = client.post(f"{API}/assignments/{ctx['assignment']}/ratings/", {"values": COHEN_VALUES}, format="json")
    flagged = client.post(f"{API}/assignments/{ctx['assignment']}/flag/", {"reason": "not_chest"}, format="json")
    for response in (submitted, flagged):
        for text in forbidden:
            assert text not in response.content.decode()


def test_rater_image_has_no_filename_and_is_not_shared_cache(ctx, personas):
    response = api_client(personas["rater1"]).get(f"{API}/assignments/{ctx['assignment']}/image.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert "Content-Disposition" not in response and response["Cache-Control"] == "no-store"
    assert b"img-0" not in response.content and b"PID-XYZ" not in response.content


def test_rater_gets_404_for_another_raters_assignment_everywhere(ctx, personas):
    client = api_client(personas["rater1"])
    for other in Assignment.objects.filter(study=ctx["study"], rater=personas["rater2"]):
        for path in ("/", "/image.png", "/ratings/"):
            assert client.get(f"{API}/assignments/{other.public_id}{path}").status_code == 404
        assert (
            client.post(
                f"{API}/assignments/{other.public_id}/ratings/", {"values": COHEN_VALUES}, format="json"
            ).status_code
            == 404
        )
        assert (
            client.post(
                f"{API}/assignments/{other.public_id}/flag/", {"reason": "wrong_view"}, format="json"
            ).status_code
            == 404
        )
    assert Assignment.objects.filter(rater=personas["rater2"], current_rating__revision=1).count() == 3


def test_a_case_id_is_not_an_assignment_id(ctx, personas):
    # A rater who somehow learned a case's id still cannot use it.
    assert api_client(personas["rater1"]).get(f"{API}/assignments/{ctx['case']}/").status_code == 404


def test_observer_sees_progress_but_no_filenames_metadata_or_scores(ctx, personas):
    client = api_client(personas["olivia"])
    body = client.get(f"{API}/studies/{ctx['slug']}/").content.decode()
    assert "rater2" in body  # per-rater counts, as on the study page
    for text in ("img-0", "PID-XYZ-99", SECRET_NOTE, "extent_right"):
        assert text not in body


def test_outsider_list_of_studies_is_empty(ctx, personas):
    assert api_client(personas["oscar"]).get(f"{API}/studies/").json()["results"] == []


def test_observer_made_adjudicator_reads_consensus_and_records_a_final_score(ctx, personas):
    owner = api_client(personas["alice"])
    assert (
        owner.patch(
            f"{API}/studies/{ctx['slug']}/members/{ctx['member']}/", {"can_adjudicate": True}, format="json"
        ).status_code
        == 200
    )
    client = api_client(personas["olivia"])
    assert client.get(f"{API}/studies/{ctx['slug']}/consensus/").status_code == 200
    case = Assignment.objects.filter(study=ctx["study"], rater=personas["rater2"]).first().case
    detail = client.get(f"{API}/studies/{ctx['slug']}/adjudications/{case.public_id}/").json()
    assert [r["rater"] for r in detail["ratings"]] == ["rater2"]
    response = client.post(
        f"{API}/studies/{ctx['slug']}/adjudications/{case.public_id}/",
        {"values": COHEN_VALUES, "note": "checked"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert json.loads(response.content)["adjudicator"] == "olivia"
