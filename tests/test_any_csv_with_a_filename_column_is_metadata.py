"""Any .csv in an import is read as a metadata table when its header has a filename column, whatever
the file is called; a .csv without one is rejected with that reason (never "not an image"), and the
report says how many metadata rows matched a case and lists the ones that matched none."""

import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotation.ingest import Source, metadata_parse, metadata_patient_id, sources_from_paths
from annotation.models import ImportJob
from annotation.services import images_import, import_limits
from annotation.services.imports import UNMATCHED
from tests.conftest import png_bytes, zip_bytes

pytestmark = pytest.mark.django_db

PATIENTS = b"Filename,Patient ID,age,view\na.png,P-1,70,PA\nb.png,P-2,54,AP\nmissing.png,P-3,33,PA\n"


@pytest.fixture
def study(make_study):
    return make_study(n_cases=0, open_it=False)


def rows_by_status(report, status: str) -> dict[str, str]:
    return {row.where: row.reason for row in report.rows if row.status == status}


def test_a_csv_named_anything_attaches_its_rows_to_the_cases_of_those_filenames(study, tmp_path):
    (tmp_path / "a.png").write_bytes(png_bytes(1))
    (tmp_path / "b.png").write_bytes(png_bytes(2))
    (tmp_path / "patients.csv").write_bytes(PATIENTS)

    report = images_import(study=study, sources=sources_from_paths([tmp_path], limits=import_limits()))

    assert report.count("imported") == 2 and report.count("rejected") == 0
    assert dict(study.cases.values_list("original_filename", "patient_id")) == {"a.png": "P-1", "b.png": "P-2"}
    assert study.cases.get(original_filename="b.png").metadata == {
        "filename": "b.png",
        "Patient ID": "P-2",
        "age": "54",
        "view": "AP",
    }
    metadata = rows_by_status(report, "metadata")
    assert metadata[str(tmp_path / "patients.csv")] == "metadata table read: 3 rows"
    assert metadata["metadata"] == "2 of 3 metadata rows matched a case; 1 match no case (listed below)"
    assert [row.name for row in report.rows if row.where == UNMATCHED] == ["missing.png"]


def test_a_csv_without_a_filename_column_is_rejected_with_that_reason_and_the_images_import(study, tmp_path):
    (tmp_path / "a.png").write_bytes(png_bytes(1))
    (tmp_path / "notes.csv").write_bytes(b"name,patientid\na.png,P-1\n")
    (tmp_path / "scores.csv").write_bytes(b"image,rater,extent_right\na.png,rater1,2\n")

    report = images_import(study=study, sources=sources_from_paths([tmp_path], limits=import_limits()))

    rejected = rows_by_status(report, "rejected")
    assert rejected[str(tmp_path / "notes.csv")] == (
        "a CSV needs a filename column to be read as metadata: this one has 'name', 'patientid'"
    )
    assert rejected[str(tmp_path / "scores.csv")].startswith("a CSV needs a filename column to be read as metadata")
    assert "Import ratings" in rejected[str(tmp_path / "scores.csv")]
    assert not any("not an image" in reason for reason in rejected.values())
    assert report.count("imported") == 1
    assert list(study.cases.values_list("patient_id", flat=True)) == [""]


def test_a_csv_inside_a_zip_with_any_name_is_metadata_and_a_path_matches_the_base_filename(study, tmp_path):
    table = b"filename,patientid\nimages/a.png,P-1\nb.png,P-2\n"
    archive = tmp_path / "batch.zip"
    archive.write_bytes(
        zip_bytes({"clinical/cases.CSV": table, "images/a.png": png_bytes(1), "images/b.png": png_bytes(2)})
    )

    report = images_import(study=study, sources=sources_from_paths([archive], limits=import_limits()))

    assert report.count("imported") == 2 and report.count("rejected") == 0
    assert dict(study.cases.values_list("original_filename", "patient_id")) == {"a.png": "P-1", "b.png": "P-2"}
    assert rows_by_status(report, "metadata")["metadata"] == "2 of 2 metadata rows matched a case"
    assert not any(row.where == UNMATCHED for row in report.rows)


def test_two_tables_add_up_and_a_later_import_updates_cases_imported_before(study):
    images_import(study=study, sources=[Source(name="a.png", where="a.png", data=png_bytes(1))])

    report = images_import(
        study=study,
        sources=[
            Source(name="ids.csv", where="ids.csv", data=b"filename,patient_id\na.png,P-9\n", is_metadata=True),
            Source(name="age.csv", where="age.csv", data=b"filename,age\na.png,61\n", is_metadata=True),
        ],
    )

    case = study.cases.get()
    assert case.patient_id == "P-9" and case.metadata == {"filename": "a.png", "patient_id": "P-9", "age": "61"}
    assert rows_by_status(report, "metadata")["metadata"] == "1 of 1 metadata rows matched a case"


@pytest.mark.parametrize("column", ["patientid", "patient_id", "Patient ID", "PatientID"])
def test_the_patient_id_is_read_from_each_documented_column_name(column):
    rows = metadata_parse(f"filename,{column}\na.png,P-7\n".encode())
    assert metadata_patient_id(rows["a.png"]) == "P-7"


def test_the_web_upload_reports_matched_and_unmatched_metadata_rows(
    make_study, client_for, django_capture_on_commit_callbacks
):
    study = make_study(n_cases=0, open_it=False)
    alice = client_for("alice")
    files = [
        SimpleUploadedFile("a.png", png_bytes(1), content_type="image/png"),
        SimpleUploadedFile("b.png", png_bytes(2), content_type="image/png"),
        SimpleUploadedFile("clinical data.csv", PATIENTS, content_type="text/csv"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(reverse("study_upload", args=[study.slug]), {"files": files})

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.DONE, job.error
    assert job.counts() == {"imported": 2, "duplicate": 0, "rejected": 0, "metadata": 3}
    assert {
        "name": "missing.png",
        "where": UNMATCHED,
        "status": "metadata",
        "reason": "no case with this filename in the study",
    } in job.report
    page = html.unescape(alice.get(response["Location"]).content.decode())
    assert "2 of 3 metadata rows matched a case; 1 match no case (listed below)" in page
    assert "1 metadata row naming no case of the study" in page and '<code class="wrap">missing.png</code>' in page
    assert "metadata table read: 3 rows" in page
    assert dict(study.cases.values_list("original_filename", "patient_id")) == {"a.png": "P-1", "b.png": "P-2"}


def test_the_upload_form_documents_the_metadata_columns(make_study, client_for):
    study = make_study(n_cases=0, open_it=False)
    page = client_for("alice").get(reverse("study", args=[study.slug])).content.decode()
    assert "add a .csv with a filename column" in page and "patientid" in page and "never shown to raters" in page
