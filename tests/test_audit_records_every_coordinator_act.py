"""Issue 14, audit you can use: besides every change, the trail records the coordinator's acts that
matter to a study: its creation, each image import (counts), each ratings import and each export
(which, how many rows, by whom: the page, the API or the command line). A refused act records nothing.
"""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import IntegrityError, transaction

from annotation.models import AuditEvent, ImportJob
from annotation.services import import_job_create, import_job_execute, rating_submit, study_create, study_lock
from tests.api_support import API, api_client
from tests.conftest import COHEN_VALUES, png_bytes
from tests.security_support import active_model_with_predictions

Action = AuditEvent.Action


def newest(study) -> AuditEvent:
    return AuditEvent.objects.filter(study=study).select_related("actor").first()  # newest first


def data_rows(text: str) -> int:
    return len(list(csv.reader(io.StringIO(text)))) - 1


def test_creating_a_study_is_recorded_with_its_owner_and_design(personas, client_for):
    study = study_create(owner=personas["alice"], slug="made", title="Made", rubric="brixia", raters_per_case=2)
    event = AuditEvent.objects.get(study=study)
    assert (event.action, event.actor, event.target) == (Action.STUDY_CREATE, personas["alice"], "made")
    assert event.details == {"title": "Made", "rubric": "brixia", "raters_per_case": 2}

    form = {"title": "On the page", "slug": "paged", "rubric": "cohen2020", "raters_per_case": 3}
    assert client_for("cora").post("/studies/new/", form).status_code == 302
    event = AuditEvent.objects.get(study__slug="paged")
    assert (event.action, event.actor) == (Action.STUDY_CREATE, personas["cora"])


def test_a_study_that_is_not_created_leaves_no_event(personas):
    study_create(owner=personas["alice"], slug="taken", title="First")
    before = AuditEvent.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        study_create(owner=personas["alice"], slug="taken", title="Second")
    assert AuditEvent.objects.count() == before


def test_a_finished_upload_is_one_event_with_its_counts_and_its_uploader(
    make_study, personas, django_capture_on_commit_callbacks
):
    study = make_study(n_cases=0, open_it=False)
    files = [
        SimpleUploadedFile("a.png", png_bytes(501)),
        SimpleUploadedFile("b.png", png_bytes(502)),
        SimpleUploadedFile("b-again.png", png_bytes(502)),
        SimpleUploadedFile("notes.png", b"not an image at all"),
        SimpleUploadedFile("metadata.csv", b"filename,age\na.png,61\nmissing.png,40\n"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(study=study, user=personas["alice"], files=files)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    (event,) = AuditEvent.objects.filter(study=study, action=Action.IMPORT)
    assert event.actor == personas["alice"]
    assert {key: event.details[key] for key in ("imported", "duplicate", "rejected", "via")} == {
        "imported": 2,
        "duplicate": 1,
        "rejected": 1,
        "via": "upload",
    }
    assert "matched" in event.details["metadata"]  # what the metadata table matched (the report's words)


def test_an_upload_that_fails_records_why(make_study, personas):
    study = make_study(n_cases=0, open_it=False)
    job = import_job_create(study=study, user=personas["alice"], files=[SimpleUploadedFile("a.png", png_bytes(1))])
    study_lock(study=study, actor=personas["alice"])  # before the worker gets to it
    import_job_execute(job_id=job.pk)
    event = newest(study)
    assert (event.action, event.actor, event.details["imported"]) == (Action.IMPORT, personas["alice"], 0)
    assert "locked" in event.details["error"]


def test_the_command_line_image_import_is_recorded_as_the_system(make_study, tmp_path):
    study = make_study(n_cases=0, open_it=False)
    for i in range(3):
        (tmp_path / f"c{i}.png").write_bytes(png_bytes(300 + i))
    call_command("import_images", study.slug, str(tmp_path), stdout=io.StringIO())
    event = newest(study)
    assert (event.action, event.actor, event.details["imported"], event.details["via"]) == (
        Action.IMPORT,
        None,
        3,
        "command line",
    )


def _ratings_csv(study) -> bytes:
    names = list(study.cases.values_list("original_filename", flat=True))[:2]
    rows = ["image,rater,extent_right,opacity_right,extent_left,opacity_left"]
    rows += [f"{name},{rater},1,1,2,2" for name in names for rater in ("rater1", "rater2")]
    return ("\n".join(rows) + "\n").encode()


def test_a_ratings_import_is_one_event_with_its_count_from_the_page_and_the_command_line(
    make_study, personas, client_for, tmp_path
):
    study = make_study(n_cases=3, open_it=False)
    upload = SimpleUploadedFile("past.csv", _ratings_csv(study), content_type="text/csv")
    assert client_for("alice").post(f"/studies/{study.slug}/ratings/import/", {"csv": upload}).status_code == 302
    (event,) = AuditEvent.objects.filter(study=study, action=Action.RATINGS_IMPORT)
    assert (event.actor, event.details["ratings"], event.details["via"]) == (personas["alice"], 4, "web")
    # ... besides each rater's own revision, named for the rater
    assert AuditEvent.objects.filter(study=study, action=Action.RATING_REVISION, actor=personas["rater2"]).count() == 2

    path = tmp_path / "past.csv"
    path.write_bytes(_ratings_csv(study))
    call_command("import_ratings", study.slug, str(path), stdout=io.StringIO())
    event = newest(study)
    assert (event.action, event.actor, event.details["via"]) == (Action.RATINGS_IMPORT, None, "command line")


def test_a_refused_ratings_import_records_nothing(make_study, client_for):
    study = make_study(n_cases=2, open_it=False)
    before = AuditEvent.objects.count()
    bad = SimpleUploadedFile("bad.csv", b"image,rater\nnope.png,nobody\n", content_type="text/csv")
    client_for("alice").post(f"/studies/{study.slug}/ratings/import/", {"csv": bad})
    assert AuditEvent.objects.count() == before


@pytest.fixture
def rated(make_study, personas, client_for, django_capture_on_commit_callbacks):
    study = make_study(n_cases=3)
    for assignment in study.assignments.all():
        rating_submit(assignment=assignment, values=COHEN_VALUES, reading_time_s=10)
    active_model_with_predictions(study, values={"geographic_extent": 2.0, "opacity": 1.5})
    with django_capture_on_commit_callbacks(execute=True):
        client_for("alice").post(f"/studies/{study.slug}/report/compute/")
    return study


EXPORTS = [
    ("/studies/{slug}/export/ratings.csv", "ratings.csv", "web"),
    ("/studies/{slug}/export/scores.csv", "covid-severity-scores.csv", "web"),
    ("/studies/{slug}/export/consensus.csv", "consensus.csv", "web"),
    ("/studies/{slug}/export/predictions.csv", "predictions.csv", "web"),
    ("/studies/{slug}/export/audit.csv", "audit.csv", "web"),
    ("/studies/{slug}/report.csv", "agreement.csv", "web"),
    (API + "/studies/{slug}/exports/ratings.csv", "ratings.csv", "api"),
    (API + "/studies/{slug}/exports/scores.csv", "covid-severity-scores.csv", "api"),
    (API + "/studies/{slug}/exports/consensus.csv", "consensus.csv", "api"),
    (API + "/studies/{slug}/exports/predictions.csv", "predictions.csv", "api"),
    (API + "/studies/{slug}/report.csv", "agreement.csv", "api"),
]


@pytest.mark.parametrize("url, export, via", EXPORTS)
def test_every_export_is_recorded_with_who_which_and_how_many_rows(rated, personas, client_for, url, export, via):
    client = api_client(personas["alice"]) if via == "api" else client_for("alice")
    response = client.get(url.format(slug=rated.slug))
    assert response.status_code == 200, response.content[:200]
    event = newest(rated)
    assert (event.action, event.actor, event.target) == (Action.EXPORT, personas["alice"], export)
    assert event.details == {"rows": data_rows(response.content.decode("utf-8-sig")), "via": via}
    assert event.details["rows"] > 0


@pytest.mark.parametrize(
    "command, args, export",
    [
        ("export_ratings", [], "ratings.csv"),
        ("export_scores", ["--format", "covid-severity"], "covid-severity-scores.csv"),
        ("export_predictions", [], "predictions.csv"),
        ("export_audit", [], "audit.csv"),
        ("agreement_report", ["--format", "csv", "--bootstrap", "0"], "agreement.csv"),
    ],
)
def test_command_line_exports_are_recorded_as_the_system(rated, command, args, export):
    out = io.StringIO()
    call_command(command, rated.slug, *args, stdout=out)
    event = newest(rated)
    assert (event.action, event.actor, event.target, event.details["via"]) == (
        Action.EXPORT,
        None,
        export,
        "command line",
    )
    if export != "agreement.csv":
        assert event.details["rows"] == data_rows(out.getvalue())


def test_an_export_that_is_refused_or_not_ready_records_nothing(make_study, personas, client_for):
    brixia = make_study(n_cases=2, rubric="brixia", slug="brixia")
    before = AuditEvent.objects.count()
    assert client_for("alice").get("/studies/brixia/export/scores.csv").status_code == 302  # no such format
    assert client_for("alice").get("/studies/brixia/report.csv").status_code == 409  # not computed
    assert client_for("oscar").get("/studies/brixia/export/ratings.csv").status_code == 404
    assert client_for("olivia").get("/studies/brixia/export/audit.csv").status_code == 404
    assert AuditEvent.objects.count() == before
    assert brixia.audit_events.filter(action=Action.EXPORT).count() == 0
