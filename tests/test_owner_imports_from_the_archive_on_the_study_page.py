"""The owner imports from the archive of the settings on the study page: a job like an upload's, its
report on the import page. The page shows the archive's address, never its credentials; without an
archive configured there is no form, and a post says why nothing was imported."""

import pytest
from pydicom.uid import generate_uid

from annotation.models import ImportJob
from tests.orthanc_support import PASSWORD, USERNAME, orthanc_archive, xray_dicom

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive_settings(settings):
    server = orthanc_archive()
    host = server.dicomweb_url.removeprefix("http://")
    # Credentials in the URL too: the page must not show them either.
    settings.DICOMWEB_URL = f"http://{USERNAME}:{PASSWORD}@{host}"
    settings.DICOMWEB_USERNAME, settings.DICOMWEB_PASSWORD = USERNAME, PASSWORD
    return server


def test_the_owner_imports_a_query_and_reads_the_report(
    make_study, client_for, archive_settings, django_capture_on_commit_callbacks
):
    study = make_study(n_cases=0, open_it=False)
    patient = f"WEB-{generate_uid()[-8:]}"
    for seed in (400, 401):
        archive_settings.upload(xray_dicom(seed=seed, modality="DX", patient_id=patient))
    owner = client_for("alice")

    page = owner.get(f"/studies/{study.slug}/").content.decode()
    assert archive_settings.dicomweb_url in page and PASSWORD not in page and USERNAME not in page

    form = {"patient_id": patient, "modality": "DX", "date_from": "2020-01-01", "date_to": "2020-12-31"}
    with django_capture_on_commit_callbacks(execute=True):
        answer = owner.post(f"/studies/{study.slug}/import/dicomweb/", form)
    job = ImportJob.objects.get(study=study)
    assert answer.status_code == 302 and answer["Location"] == f"/studies/{study.slug}/imports/{job.pk}/"
    assert job.status == "done" and job.counts() == {"imported": 2, "duplicate": 0, "rejected": 0}
    assert job.dicomweb_selection["query"] == {"PatientID": patient, "Modality": "DX", "StudyDate": "20200101-20201231"}
    assert PASSWORD not in str(job.dicomweb_selection)
    report = owner.get(answer["Location"]).content.decode()
    assert "<strong>2</strong> imported" in report
    assert study.cases.count() == 2


def test_a_refused_import_ends_the_job_with_the_reason_on_its_page(
    make_study, client_for, archive_settings, settings, django_capture_on_commit_callbacks
):
    settings.DICOMWEB_PASSWORD = "wrong"
    study = make_study(n_cases=0, open_it=False)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client_for("alice").post(f"/studies/{study.slug}/import/dicomweb/", {"study_uids": "1.2.3"})
    job = ImportJob.objects.get(study=study)
    assert job.status == "failed" and "refused the credentials (HTTP 401)" in job.error
    assert "refused the credentials" in client_for("alice").get(answer["Location"]).content.decode()
    assert study.cases.count() == 0


def test_without_an_archive_there_is_no_form_and_a_post_says_why(make_study, client_for, settings):
    settings.DICOMWEB_URL = ""
    study = make_study(n_cases=0, open_it=False)
    owner = client_for("alice")
    assert "Import from the archive" not in owner.get(f"/studies/{study.slug}/").content.decode()

    answer = owner.post(f"/studies/{study.slug}/import/dicomweb/", {"study_uids": "1.2.3"}, follow=True)

    assert "Nothing imported: no archive: give its DICOMweb URL (or set DICOMWEB_URL)." in answer.content.decode()
    assert not ImportJob.objects.filter(study=study).exists()


def test_an_empty_form_or_a_bad_uid_imports_nothing(make_study, client_for, archive_settings):
    study = make_study(n_cases=0, open_it=False)
    owner = client_for("alice")
    empty = owner.post(f"/studies/{study.slug}/import/dicomweb/", {}, follow=True).content.decode()
    assert "Nothing imported: nothing selected" in empty
    bad = owner.post(f"/studies/{study.slug}/import/dicomweb/", {"study_uids": "1.2.3, 1.2.abc"}, follow=True)
    assert "Nothing imported: &#x27;1.2.abc&#x27; is not a DICOM UID." in bad.content.decode()
    assert not ImportJob.objects.filter(study=study).exists()
