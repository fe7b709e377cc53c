"""An unreachable archive, refused credentials, an instance that is not an image, or a selection above
the archive limits: each ends the DICOMweb import with a clear reason, and not one case is written."""

import socket

import pytest
from django.core.management import CommandError, call_command
from pydicom.uid import generate_uid

from annotation.models import AuditEvent, Image
from annotation.services.dicomweb import Archive, DicomwebError, Selection, dicomweb_import, query_parse
from tests.orthanc_support import PASSWORD, USERNAME, orthanc_archive, text_sr_dicom, xray_dicom

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive() -> Archive:
    return Archive(url=orthanc_archive().dicomweb_url, username=USERNAME, password=PASSWORD)


def seeded_study_uid(count: int, *, start: int) -> str:
    server, study_uid, series_uid = orthanc_archive(), generate_uid(), generate_uid()
    for i in range(count):
        server.upload(xray_dicom(seed=start + i, study_uid=study_uid, series_uid=series_uid))
    return study_uid


def refused(study, archive: Archive, selection: Selection) -> str:
    with pytest.raises(DicomwebError) as caught:
        dicomweb_import(study=study, archive=archive, selection=selection)
    assert study.cases.count() == 0 and Image.objects.count() == 0
    event = AuditEvent.objects.filter(study=study, action=AuditEvent.Action.IMPORT).get()
    assert event.details["imported"] == 0 and event.details["error"] == str(caught.value)
    return str(caught.value)


def test_an_unreachable_archive_says_it_cannot_be_reached(make_study):
    study = make_study(n_cases=0, open_it=False)
    with socket.socket() as sock:  # a port with nothing listening on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reason = refused(study, Archive(url=f"http://127.0.0.1:{port}/dicom-web"), Selection(study_uids=("1.2.3",)))
    assert f"the archive at http://127.0.0.1:{port}/dicom-web cannot be reached" in reason


def test_wrong_credentials_are_named_as_such_and_the_password_is_not_repeated(make_study):
    study = make_study(n_cases=0, open_it=False)
    study_uid = seeded_study_uid(1, start=100)
    wrong = Archive(url=orthanc_archive().dicomweb_url, username=USERNAME, password="not-the-password")
    reason = refused(study, wrong, Selection(study_uids=(study_uid,)))
    assert "refused the credentials (HTTP 401)" in reason
    assert "not-the-password" not in reason


def test_a_series_that_is_not_an_image_is_refused_whole(make_study, archive):
    study = make_study(n_cases=0, open_it=False)
    study_uid = seeded_study_uid(2, start=110)
    report = text_sr_dicom(study_uid=study_uid)
    orthanc_archive().upload(report)
    import io

    import pydicom

    sr_series = str(pydicom.dcmread(io.BytesIO(report)).SeriesInstanceUID)
    reason = refused(study, archive, Selection(study_uids=(study_uid,), series_uids=(sr_series,)))
    assert "1 instance(s) that are not images (Basic Text SR Storage in series" in reason
    assert "nothing imported" in reason


def test_a_selection_with_more_instances_than_the_limit_is_refused_before_any_is_fetched(make_study, archive, settings):
    settings.IMPORT_MAX_ARCHIVE_MEMBERS = 2
    study = make_study(n_cases=0, open_it=False)
    reason = refused(study, archive, Selection(study_uids=(seeded_study_uid(3, start=120),)))
    assert "more than 2 instances, the limit of one import (IMPORT_MAX_ARCHIVE_MEMBERS)" in reason


def test_a_selection_larger_than_the_byte_limit_is_refused_with_nothing_half_imported(make_study, archive, settings):
    study_uid = seeded_study_uid(3, start=130)
    settings.IMPORT_MAX_ARCHIVE_BYTES = 15_000  # each file is ~6.5 kB: the third one crosses it
    study = make_study(n_cases=0, open_it=False)
    reason = refused(study, archive, Selection(study_uids=(study_uid,)))
    assert "larger than 15,000 bytes, the limit of one import (IMPORT_MAX_ARCHIVE_BYTES)" in reason


def test_a_selection_over_the_study_storage_quota_is_refused_whole(make_study, archive, settings):
    study_uid = seeded_study_uid(2, start=150)
    settings.STUDY_STORAGE_QUOTA_BYTES = 10_000  # each file is ~6.5 kB: one fits, two do not
    study = make_study(n_cases=0, open_it=False)
    reason = refused(study, archive, Selection(study_uids=(study_uid,)))
    assert "the study's storage quota" in reason and reason.startswith("nothing imported: ")


def test_one_file_above_the_file_limit_is_rejected_in_the_report_like_an_upload(make_study, archive, settings):
    settings.IMPORT_MAX_FILE_BYTES = 1_000
    study = make_study(n_cases=0, open_it=False)
    report = dicomweb_import(
        study=study, archive=archive, selection=Selection(study_uids=(seeded_study_uid(1, start=140),))
    )
    assert [row.status for row in report.rows] == ["rejected"]
    assert report.rows[0].reason == "file too large: above the limit of 1,000 bytes"
    assert study.cases.count() == 0


def test_the_command_fails_with_the_reason(make_study, settings):
    settings.DICOMWEB_USERNAME, settings.DICOMWEB_PASSWORD = USERNAME, "wrong"
    study = make_study(n_cases=0, open_it=False)
    with pytest.raises(CommandError, match=r"refused the credentials \(HTTP 401\)"):
        call_command("import_dicomweb", study.slug, "--url", orthanc_archive().dicomweb_url, "--study-uid", "1.2.3")
    assert study.cases.count() == 0


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["modality=CT"], "chest X-rays are CR or DX"),
        (["study_date=2020-01-01"], "give YYYYMMDD or a range"),
        (["colour=red"], "use key=value with a key among"),
    ],
)
def test_a_query_outside_what_can_be_searched_is_refused_before_asking_the_archive(pairs, message):
    with pytest.raises(DicomwebError, match=message):
        query_parse(pairs)
