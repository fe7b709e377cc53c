"""A case made from a DICOM file, uploaded or imported over DICOMweb, keeps the UIDs of the instance its
image came from (the structured reports refer to it), and a study backup carries them back; a PNG
case has none, and a case without them gets no report."""

import io

import pydicom
import pytest
from django.core.management import call_command

from annotation.ingest import Source
from annotation.models import Case, Image, Study
from annotation.services import images_import, rating_submit, study_open
from scoring.services.sr_export import study_sr_export
from tests.conftest import COHEN_VALUES, png_bytes
from tests.orthanc_support import xray_dicom

pytestmark = pytest.mark.django_db


def test_an_uploaded_dicom_keeps_its_uids_and_a_png_has_none(make_study):
    study = make_study(n_cases=0, open_it=False)
    data = xray_dicom(seed=300, modality="DX")
    header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    images_import(
        study=study,
        sources=[Source("chest.dcm", "chest.dcm", data=data), Source("chest.png", "chest.png", data=png_bytes(1))],
    )

    dicom_case = Case.objects.get(study=study, original_filename="chest.dcm")
    assert (
        dicom_case.dicom_study_uid,
        dicom_case.dicom_series_uid,
        dicom_case.dicom_sop_instance_uid,
        dicom_case.dicom_sop_class_uid,
    ) == (header.StudyInstanceUID, header.SeriesInstanceUID, header.SOPInstanceUID, header.SOPClassUID)
    png_case = Case.objects.get(study=study, original_filename="chest.png")
    assert (png_case.dicom_study_uid, png_case.dicom_sop_instance_uid) == ("", "")


def test_a_backup_restores_the_uids(make_study, tmp_path):
    study = make_study(n_cases=0, open_it=False)
    data = xray_dicom(seed=301)
    images_import(study=study, sources=[Source("a.dcm", "a.dcm", data=data)])
    before = Case.objects.values("dicom_study_uid", "dicom_series_uid", "dicom_sop_instance_uid").get(study=study)
    path = tmp_path / "backup.zip"
    call_command("export_study", study.slug, output=str(path))
    study.delete()
    Image.objects.all().delete()

    call_command("import_study", str(path))

    restored = Study.objects.get(slug=study.slug)
    assert (
        Case.objects.values("dicom_study_uid", "dicom_series_uid", "dicom_sop_instance_uid").get(study=restored)
        == before
    )
    assert before["dicom_sop_instance_uid"] == str(pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID)


def test_a_scored_case_from_a_png_is_listed_as_skipped_not_reported(make_study):
    study = make_study(n_cases=0, open_it=False)
    images_import(
        study=study,
        sources=[Source("a.dcm", "a.dcm", data=xray_dicom(seed=302)), Source("b.png", "b.png", data=png_bytes(2))],
    )
    study_open(study=study)
    for assignment in study.assignments.all():
        rating_submit(assignment=assignment, values=COHEN_VALUES, reading_time_s=5.0)

    export = study_sr_export(study=study)

    png_case = Case.objects.get(study=study, original_filename="b.png")
    dicom_case = Case.objects.get(study=study, original_filename="a.dcm")
    assert [name for name, _ in export.documents] == [f"{dicom_case.public_id}/final.dcm"]
    assert export.skipped == [f"{png_case.public_id}: not from a DICOM file, so there is no instance to refer to"]
