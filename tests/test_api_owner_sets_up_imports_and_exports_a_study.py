"""An owner drives a study through the API: create, configure, members, images, open, lock, exports."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import Assignment, Study, StudyMembership
from annotation.services import rating_submit
from tests.api_support import API, api_client, error_of
from tests.conftest import COHEN_VALUES, png_bytes, zip_bytes


@pytest.fixture
def alice(personas):
    return api_client(personas["alice"])


def _upload(client, slug: str, name: str, data: bytes, capture):
    with capture(execute=True):  # the worker runs once the upload is committed (eager in tests)
        response = client.post(
            f"{API}/studies/{slug}/imports/", {"files": [SimpleUploadedFile(name, data)]}, format="multipart"
        )
    assert response.status_code == 202, response.content
    return client.get(response["Location"]).json()


def test_owner_creates_configures_fills_opens_and_locks_a_study(alice, personas, django_capture_on_commit_callbacks):
    created = alice.post(
        f"{API}/studies/", {"slug": "Chest-1", "title": "Chest one", "raters_per_case": 2}, format="json"
    )
    assert created.status_code == 201
    assert created.json() | {"created_at": None} == {
        "slug": "chest-1",
        "title": "Chest one",
        "rubric": "cohen2020",
        "raters_per_case": 2,
        "status": "draft",
        "consensus_method": "mean",
        "adjudication_range": 3,
        "created_at": None,
        "opened_at": None,
        "locked_at": None,
        "role": "owner",
        "n_cases": 0,
        "progress": [],
        "model_assistance": "none",
        "crossover_gap": 5,
        "queue_order": "random",
        "bootstrap_raters": "fixed",
        "repeat_fraction": 0.0,
        "repeat_washout_days": 14,
        "repeat_washout_cases": 20,
        "primary_metric": "",
        "primary_score": "",
        "auto_promote": False,
        "burned_in_annotation": "reject",
        "adjudication_blind": False,
    }
    assert (
        alice.patch(f"{API}/studies/chest-1/", {"rubric": "ralo", "adjudication_range": 2}, format="json").json()[
            "rubric"
        ]
        == "ralo"
    )

    added = alice.post(
        f"{API}/studies/chest-1/members/", {"username": "reader-a", "role": "rater"}, format="json"
    ).json()
    existing = alice.post(
        f"{API}/studies/chest-1/members/", {"username": "rater1", "role": "rater"}, format="json"
    ).json()
    # A new account (invited) and an existing one: the same answer, and never a password.
    assert added["role"] == existing["role"] == "rater" and set(added) == set(existing)
    assert "password" not in added

    archive = zip_bytes(
        {
            "a.png": png_bytes(1),
            "b.png": png_bytes(2),
            "b-again.png": png_bytes(2),
            "bad.png": b"not an image",
            "metadata.csv": b"filename,patientid,age\na.png,P1,70\n",
        }
    )
    job = _upload(alice, "chest-1", "batch.zip", archive, django_capture_on_commit_callbacks)
    assert job["status"] == "done" and job["counts"] == {"imported": 2, "duplicate": 1, "rejected": 1}
    assert {row["name"]: row["status"] for row in job["report"]}["bad.png"] == "rejected"
    cases = alice.get(f"{API}/studies/chest-1/cases/?ordering=filename").json()["results"]
    assert [(c["filename"], c["patient_id"], c["metadata"].get("age")) for c in cases] == [
        ("a.png", "P1", "70"),
        ("b.png", "", None),
    ]

    opened = alice.post(f"{API}/studies/chest-1/open/").json()
    assert opened["assignments_made"] == 4 and opened["study"]["status"] == "open"
    conflict = alice.patch(f"{API}/studies/chest-1/", {"raters_per_case": 1}, format="json")
    assert conflict.status_code == 409 and error_of(conflict)["code"] == "study_state"

    assert alice.post(f"{API}/studies/chest-1/lock/").json()["status"] == "locked"
    refused = alice.post(
        f"{API}/studies/chest-1/imports/", {"files": [SimpleUploadedFile("c.png", png_bytes(3))]}, format="multipart"
    )
    assert refused.status_code == 409 and "locked" in error_of(refused)["message"]


def test_a_taken_slug_and_missing_fields_are_field_errors(alice, make_study):
    make_study(slug="taken")
    response = alice.post(f"{API}/studies/", {"slug": "taken"}, format="json")
    error = error_of(response)
    assert response.status_code == 400 and error["code"] == "invalid"
    assert error["fields"]["slug"] == ["a study with this short name already exists"]
    assert error["fields"]["title"] == ["This field is required."]


def test_opening_without_enough_raters_is_a_conflict(alice, make_study):
    make_study(slug="thin", raters=("rater1",), raters_per_case=3, open_it=False)
    response = alice.post(f"{API}/studies/thin/open/")
    assert response.status_code == 409
    assert error_of(response) == {
        "code": "study_state",
        "message": "the study needs at least 3 raters to open (it has 1)",
        "fields": {},
    }


def test_lists_paginate_filter_and_order(alice, make_study):
    make_study(n_cases=5, slug="many")
    first = alice.get(f"{API}/studies/many/cases/?page_size=2&ordering=-filename").json()
    assert first["count"] == 5 and [c["filename"] for c in first["results"]] == ["img-004.png", "img-003.png"]
    assert alice.get(first["next"]).json()["results"][0]["filename"] == "img-002.png"
    assert [c["filename"] for c in alice.get(f"{API}/studies/many/cases/?filename=003").json()["results"]] == [
        "img-003.png"
    ]
    assert (
        alice.get(f"{API}/studies/many/members/?role=rater&ordering=-username").json()["results"][0]["username"]
        == "rater3"
    )
    assert alice.get(f"{API}/studies/?status=open").json()["count"] == 1
    assert alice.get(f"{API}/studies/?status=draft").json()["count"] == 0


def test_a_bad_filter_value_is_a_field_error(alice, make_study):
    make_study()
    response = alice.get(f"{API}/studies/?status=bogus")
    assert response.status_code == 400 and "status" in error_of(response)["fields"]
    assert error_of(alice.get(f"{API}/studies/s1/cases/?page=99"))["code"] == "not_found"


def test_member_roles_and_adjudicator_rights_follow_the_pages_rules(alice, make_study, personas):
    study = make_study()
    rater = study.memberships.get(user=personas["rater1"])
    response = alice.patch(f"{API}/studies/s1/members/{rater.public_id}/", {"can_adjudicate": True}, format="json")
    assert response.status_code == 409 and "is a rater" in error_of(response)["message"]
    response = alice.patch(f"{API}/studies/s1/members/{rater.public_id}/", {"role": "observer"}, format="json")
    assert response.status_code == 409 and "stays a rater" in error_of(response)["message"]
    observer = study.memberships.get(user=personas["olivia"])
    assert alice.patch(
        f"{API}/studies/s1/members/{observer.public_id}/", {"can_adjudicate": True}, format="json"
    ).json()["can_adjudicate"]
    other = make_study(slug="other", n_cases=0, open_it=False).memberships.get(user=personas["olivia"])
    assert (
        alice.patch(f"{API}/studies/s1/members/{other.public_id}/", {"role": "rater"}, format="json").status_code == 404
    )


PAST = (
    b"image,rater,extent_right,extent_left,opacity_right,opacity_left\n"
    b"old1.png,rater1,1,1,1,1\nold1.png,rater2,2,2,1,1\n"
)


def test_ratings_csv_imports_all_or_nothing_and_names_bad_lines(alice, make_study):
    study = make_study(n_cases=0, open_it=False)
    bad = PAST + b"old2.png,nobody,1,1,1,9\n"
    response = alice.post(
        f"{API}/studies/s1/ratings/import/",
        {"file": SimpleUploadedFile("r.csv", bad), "allow_missing_images": True},
        format="multipart",
    )
    error = error_of(response)
    assert response.status_code == 400 and error["code"] == "invalid_csv"
    assert any(line.startswith("line 4:") and "nobody" in line for line in error["fields"]["file"])
    assert not Assignment.objects.filter(study=study).exists()
    response = alice.post(
        f"{API}/studies/s1/ratings/import/",
        {"file": SimpleUploadedFile("r.csv", PAST), "allow_missing_images": True},
        format="multipart",
    )
    assert response.status_code == 201 and response.json() == {"imported": 2}


def test_a_csv_the_csv_module_cannot_read_is_refused_not_a_server_error(alice, make_study):
    make_study(n_cases=0, open_it=False)
    huge = PAST + b'old2.png,"' + b"x" * 200_000 + b'",1,1,1,1\n'
    for data in (huge, PAST.replace(b"old1", b"o\x00ld1")):
        response = alice.post(
            f"{API}/studies/s1/ratings/import/", {"file": SimpleUploadedFile("r.csv", data)}, format="multipart"
        )
        assert response.status_code == 400 and error_of(response)["code"] == "invalid_csv"


def test_exports_as_csv_and_json_carry_the_same_ratings(alice, make_study, personas):
    study = make_study(n_cases=2)
    for assignment in Assignment.objects.filter(study=study, rater=personas["rater1"]):
        rating_submit(assignment=assignment, values=COHEN_VALUES)
    csv_response = alice.get(f"{API}/studies/s1/exports/ratings.csv")
    assert csv_response["Content-Type"].startswith("text/csv")
    assert csv_response["Content-Disposition"] == 'attachment; filename="s1-ratings.csv"'
    lines = csv_response.content.decode().splitlines()
    rows = alice.get(f"{API}/studies/s1/exports/ratings/?rater=rater1").json()["results"]
    assert len(lines) == 3 and len(rows) == 2
    assert {(r["image"], r["rater"], r["status"], r["totals"]["geographic_extent"]) for r in rows} == {
        ("img-000.png", "rater1", "scored", 5),
        ("img-001.png", "rater1", "scored", 5),
    }
    assert alice.get(f"{API}/studies/s1/exports/ratings/?status=flagged").json()["count"] == 0
    scores = alice.get(f"{API}/studies/s1/exports/scores.csv").content.decode().splitlines()
    assert scores == [
        "filename,geographic_mean,opacity_mean,geographic_final,opacity_final,final_source",
        "img-000.png,5.0,3.0,5.0,3.0,consensus",
        "img-001.png,5.0,3.0,5.0,3.0,consensus",
    ]


def test_scores_export_of_a_rubric_without_those_totals_is_a_conflict(alice, make_study):
    make_study(rubric="brixia")
    response = alice.get(f"{API}/studies/s1/exports/scores.csv")
    assert response.status_code == 409 and error_of(response)["code"] == "export_unavailable"


def test_owner_sees_flags_with_filename_rater_and_note(alice, make_study, personas):
    study = make_study(n_cases=1)
    assignment = Assignment.objects.get(study=study, rater=personas["rater2"])
    api_client(personas["rater2"]).post(
        f"{API}/assignments/{assignment.public_id}/flag/", {"reason": "other", "note": "rotated"}, format="json"
    )
    flags = alice.get(f"{API}/studies/s1/flags/?reason=other").json()["results"]
    assert [(f["filename"], f["rater"], f["note"]) for f in flags] == [("img-000.png", "rater2", "rotated")]


def test_rubrics_list_every_level_definition(alice, db):
    rubrics = {r["key"]: r for r in alice.get(f"{API}/rubrics/").json()}
    assert set(rubrics) == {"cohen2020", "ralo", "brixia", "rale"}
    extent = next(i for i in rubrics["cohen2020"]["items"] if i["key"] == "extent_right")
    assert [level["value"] for level in extent["levels"]] == [0, 1, 2, 3, 4]
    assert Study.objects.count() == 0 and StudyMembership.objects.count() == 0
