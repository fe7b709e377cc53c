"""Cases come from a real Orthanc over DICOMweb (QIDO-RS search, WADO-RS retrieve), by study UID,
series UID, accession number or query, through the same checks, display image and report as uploads."""

import io
from datetime import date

import pytest
from django.core.management import call_command
from PIL import Image as PILImage
from pydicom.uid import generate_uid

from annotation.models import AuditEvent, Case
from annotation.services.dicomweb import Archive, Selection, dicomweb_import, query_parse
from tests.orthanc_support import PASSWORD, USERNAME, orthanc_archive, text_sr_dicom, xray_dicom

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive() -> Archive:
    return Archive(url=orthanc_archive().dicomweb_url, username=USERNAME, password=PASSWORD)


def seed(*files: bytes) -> None:
    server = orthanc_archive()
    for data in files:
        server.upload(data)


def test_a_study_uid_imports_its_xray_series_and_records_the_source_uids(make_study, archive):
    study = make_study(n_cases=0, open_it=False)
    study_uid, series_uid = generate_uid(), generate_uid()
    files = [xray_dicom(seed=i, study_uid=study_uid, series_uid=series_uid) for i in range(3)]
    seed(*files, text_sr_dicom(study_uid=study_uid))  # an SR series beside the images: passed over

    report = dicomweb_import(study=study, archive=archive, selection=Selection(study_uids=(study_uid,)))

    assert report.count("imported") == 3 and report.count("rejected") == 0
    cases = list(study.cases.all())
    assert {case.dicom_study_uid for case in cases} == {study_uid}
    assert {case.dicom_series_uid for case in cases} == {series_uid}
    sent = {_sop_uid(data) for data in files}
    assert {case.dicom_sop_instance_uid for case in cases} == sent
    assert {case.original_filename for case in cases} == {f"{uid}.dcm" for uid in sent}
    assert {case.dicom_sop_class_uid for case in cases} == {"1.2.840.10008.5.1.4.1.1.1"}  # CR Image Storage
    for case in cases:
        assert case.image.source_format == "dicom"
        with case.image.display.open("rb") as handle:
            shown = PILImage.open(io.BytesIO(handle.read()))
        assert (
            shown.mode == "L" and shown.size == (64, 48) and not shown.info
        )  # 48 rows of 64; a fresh PNG, no metadata


def test_the_original_bytes_are_the_archives_own_so_a_second_import_finds_duplicates(make_study, archive):
    study = make_study(n_cases=0, open_it=False)
    study_uid = generate_uid()
    files = [xray_dicom(seed=10 + i, study_uid=study_uid) for i in range(2)]
    seed(*files)
    dicomweb_import(study=study, archive=archive, selection=Selection(study_uids=(study_uid,)))
    stored = set()
    for case in study.cases.all():
        with case.image.original.open("rb") as handle:
            stored.add(handle.read())
    assert stored == set(files)

    again = dicomweb_import(study=study, archive=archive, selection=Selection(study_uids=(study_uid,)))
    assert again.count("duplicate") == 2 and again.count("imported") == 0
    assert study.cases.count() == 2


def test_a_series_uid_an_accession_number_and_a_query_each_select_their_images(make_study, archive):
    study = make_study(n_cases=0, open_it=False)
    patient = f"P-{generate_uid()[-8:]}"
    by_series = xray_dicom(seed=20, patient_id=patient, study_date=date(2019, 5, 1))
    by_accession = xray_dicom(seed=21, accession=f"A{generate_uid()[-10:]}", study_date=date(2019, 5, 1))
    in_range = xray_dicom(seed=22, modality="DX", patient_id=patient, study_date=date(2021, 6, 1))
    out_of_range = xray_dicom(seed=23, modality="DX", patient_id=patient, study_date=date(2022, 6, 1))
    seed(by_series, by_accession, in_range, out_of_range)

    series = _attribute(by_series, "SeriesInstanceUID")
    dicomweb_import(study=study, archive=archive, selection=Selection(series_uids=(series,)))
    assert _imported(study) == {_sop_uid(by_series)}

    accession = _attribute(by_accession, "AccessionNumber")
    dicomweb_import(study=study, archive=archive, selection=Selection(accession_numbers=(accession,)))
    assert _imported(study) == {_sop_uid(by_series), _sop_uid(by_accession)}

    query = query_parse([f"patient_id={patient}", "modality=DX", "study_date=20210101-20211231"])
    report = dicomweb_import(study=study, archive=archive, selection=Selection(query=query))
    assert report.count("imported") == 1
    assert _imported(study) == {_sop_uid(by_series), _sop_uid(by_accession), _sop_uid(in_range)}
    assert Case.objects.get(dicom_sop_instance_uid=_sop_uid(in_range)).dicom_sop_class_uid == (
        "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
    )


def test_the_command_imports_and_the_audit_names_the_archive_without_the_password(make_study, settings):
    server = orthanc_archive()
    settings.DICOMWEB_USERNAME, settings.DICOMWEB_PASSWORD = USERNAME, PASSWORD
    study = make_study(n_cases=0, open_it=False)
    study_uid = generate_uid()
    seed(*(xray_dicom(seed=30 + i, study_uid=study_uid) for i in range(2)))
    out = io.StringIO()

    call_command("import_dicomweb", study.slug, "--url", server.dicomweb_url, "--study-uid", study_uid, stdout=out)

    assert "imported 2, duplicates 0, rejected 0" in out.getvalue()
    event = AuditEvent.objects.get(study=study, action=AuditEvent.Action.IMPORT)
    assert event.details["imported"] == 2
    assert event.details["via"] == f"DICOMweb {server.dicomweb_url}"
    assert PASSWORD not in str(event.details) and PASSWORD not in out.getvalue()


def test_an_archive_url_with_credentials_in_it_is_shown_without_them():
    archive = Archive(url="https://user:secret@pacs.example.org:8443/dicom-web/", password="other")
    assert archive.shown == "https://pacs.example.org:8443/dicom-web"
    assert "other" not in repr(archive)


def _imported(study) -> set[str]:
    return set(study.cases.values_list("dicom_sop_instance_uid", flat=True))


def _attribute(data: bytes, keyword: str) -> str:
    import pydicom

    return str(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).get(keyword))


def _sop_uid(data: bytes) -> str:
    return _attribute(data, "SOPInstanceUID")
