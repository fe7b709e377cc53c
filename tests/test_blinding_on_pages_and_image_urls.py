"""A rater sees their own cases only: no filename, metadata, other rating, or others' existence."""

import pytest

from annotation.models import Assignment
from annotation.services import cases_apply_metadata, rating_submit
from tests.conftest import COHEN_VALUES

SECRET_NOTE = "Patient-identifying clinical note 4711"


@pytest.fixture
def rated_study(make_study, personas):
    study = make_study(n_cases=3)
    cases_apply_metadata(
        study=study,
        metadata={
            case.original_filename: {
                "filename": case.original_filename,
                "patientid": "PID-XYZ-99",
                "clinical_notes": SECRET_NOTE,
            }
            for case in study.cases.all()
        },
    )
    # rater2 scores everything with distinctive values so a leak would be visible.
    for assignment in Assignment.objects.filter(study=study, rater=personas["rater2"]):
        rating_submit(
            assignment=assignment, values={"extent_right": 4, "extent_left": 4, "opacity_right": 3, "opacity_left": 3}
        )
    return study


def _own(study, user):
    return Assignment.objects.filter(study=study, rater=user).order_by("order_key")


def _forbidden_strings(study, personas):
    out = ["rater2", "rater3", "PID-XYZ-99", SECRET_NOTE, "img-0"]
    out += list(
        study.cases.values_list("public_id", flat=True)
    )  # raters never see case ids, only their own assignment ids
    out += list(Assignment.objects.filter(study=study, rater=personas["rater2"]).values_list("public_id", flat=True))
    return out


def test_reading_page_shows_nothing_of_other_raters_files_or_metadata(rated_study, personas, client_for):
    client = client_for("rater1")
    forbidden = _forbidden_strings(rated_study, personas)
    for assignment in _own(rated_study, personas["rater1"]):
        response = client.get(f"/read/{assignment.public_id}/")
        assert response.status_code == 200
        body = response.content.decode()
        for text in forbidden:
            assert text not in body, f"reading page leaks {text!r}"
        assert 'value="4" checked' not in body  # rater2's scores are not pre-filled
        for value in response.headers.values():
            assert "img-0" not in value and "rater2" not in value


def test_image_url_carries_no_filename_and_no_metadata(rated_study, personas, client_for):
    assignment = _own(rated_study, personas["rater1"]).first()
    response = client_for("rater1").get(f"/read/{assignment.public_id}/image.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "Content-Disposition" not in response
    assert response["Cache-Control"] == "no-store"  # reading rooms are shared machines
    assert b"img-0" not in response.content and b"PID-XYZ" not in response.content


def test_rater_gets_404_for_another_raters_assignment_page_image_and_flag(rated_study, personas, client_for):
    client = client_for("rater1")
    for other in Assignment.objects.filter(study=rated_study, rater=personas["rater2"]):
        assert client.get(f"/read/{other.public_id}/").status_code == 404
        assert client.get(f"/read/{other.public_id}/image.png").status_code == 404
        assert client.post(f"/read/{other.public_id}/", COHEN_VALUES).status_code == 404
        assert client.post(f"/read/{other.public_id}/flag/", {"reason": "wrong_view"}).status_code == 404
    assert Assignment.objects.filter(rater=personas["rater2"], flag_reason="").count() == 3


def test_rater_and_outsider_get_404_for_owner_pages_exports_and_case_images(rated_study, client_for):
    case = rated_study.cases.first()
    urls = [
        f"/studies/{rated_study.slug}/",
        f"/studies/{rated_study.slug}/export/ratings.csv",
        f"/studies/{rated_study.slug}/export/scores.csv",
        f"/studies/{rated_study.slug}/cases/{case.public_id}/image.png",
    ]
    for name in ("rater1", "oscar"):
        client = client_for(name)
        for url in urls:
            assert client.get(url).status_code == 404, (name, url)


def test_observer_sees_progress_but_no_filenames_metadata_or_exports(rated_study, client_for):
    client = client_for("olivia")
    response = client.get(f"/studies/{rated_study.slug}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "rater2" in body  # progress per rater, counts only
    for text in ("img-0", "PID-XYZ-99", SECRET_NOTE):
        assert text not in body
    assert client.get(f"/studies/{rated_study.slug}/export/ratings.csv").status_code == 404


def test_outsider_sees_no_study_and_cannot_read(rated_study, personas, client_for):
    client = client_for("oscar")
    assert b"Study one" not in client.get("/").content
    assert client.get(f"/studies/{rated_study.slug}/read/").status_code == 404
    assignment = Assignment.objects.filter(study=rated_study).first()
    assert client.get(f"/read/{assignment.public_id}/").status_code == 404


def test_anonymous_users_are_sent_to_login(rated_study, client):
    assignment = Assignment.objects.filter(study=rated_study).first()
    for url in (
        "/",
        f"/read/{assignment.public_id}/",
        f"/read/{assignment.public_id}/image.png",
        f"/studies/{rated_study.slug}/",
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_owner_sees_filenames_and_metadata(rated_study, client_for):
    body = client_for("alice").get(f"/studies/{rated_study.slug}/cases/").content.decode()
    assert "img-000.png" in body and "PID-XYZ-99" in body


def test_home_page_of_a_rater_shows_own_progress_only(rated_study, personas, client_for):
    body = client_for("rater1").get("/").content.decode()
    assert "You have done 0 of 3 cases" in body
    assert "rater2" not in body
