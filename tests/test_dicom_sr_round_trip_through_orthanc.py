"""Cases imported from a real Orthanc over DICOMweb are scored; `export_sr --stow` stores the final and
per-rater scores as Comprehensive SR (TID 1500) in the archive; read back over WADO-RS, every value,
name and reference is the one the platform holds. The reports are read with plain pydicom, not with
the library that wrote them."""

import io
import zipfile
from statistics import mean

import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from django.core.management import CommandError, call_command
from pydicom.uid import generate_uid

from annotation.models import Assignment, AuditEvent, Study
from annotation.services import adjudication_record, membership_set_adjudicator, rating_submit, study_open
from annotation.services.dicomweb import Archive, Selection, dicomweb_import
from tests.orthanc_support import PASSWORD, USERNAME, orthanc_archive, xray_dicom

pytestmark = pytest.mark.django_db

# rater -> values on the first case (they agree) and on the second (they disagree, then adjudicated).
AGREE = {
    "rater1": {"extent_right": 1, "extent_left": 2, "opacity_right": 1, "opacity_left": 1},
    "rater2": {"extent_right": 2, "extent_left": 2, "opacity_right": 1, "opacity_left": 2},
    "rater3": {"extent_right": 1, "extent_left": 1, "opacity_right": 1, "opacity_left": 1},
}
DISAGREE = {
    "rater1": {"extent_right": 0, "extent_left": 0, "opacity_right": 0, "opacity_left": 0},
    "rater2": {"extent_right": 4, "extent_left": 4, "opacity_right": 3, "opacity_left": 3},
    "rater3": {"extent_right": 2, "extent_left": 1, "opacity_right": 1, "opacity_left": 1},
}
FINAL = {"extent_right": 2, "extent_left": 3, "opacity_right": 1, "opacity_left": 2}
ITEMS = ("extent_right", "extent_left", "opacity_right", "opacity_left")
SIDE = {"extent_right": "24028007", "opacity_right": "24028007", "extent_left": "7771000", "opacity_left": "7771000"}
BOTH = "51440002"


def totals(values: dict[str, int]) -> dict[str, int]:
    return {
        "geographic_extent": values["extent_right"] + values["extent_left"],
        "opacity": values["opacity_right"] + values["opacity_left"],
    }


@pytest.fixture
def scored_study(make_study, personas):
    """Two CR images imported from Orthanc, read by rater1-3; the second adjudicated by olivia."""
    server = orthanc_archive()
    study_uid, series_uid = generate_uid(), generate_uid()
    for seed in (200, 201):
        server.upload(xray_dicom(seed=seed, study_uid=study_uid, series_uid=series_uid, patient_id="SR-PAT"))
    study = make_study(n_cases=0, open_it=False)
    archive = Archive(url=server.dicomweb_url, username=USERNAME, password=PASSWORD)
    dicomweb_import(study=study, archive=archive, selection=Selection(study_uids=(study_uid,)))
    study_open(study=study)
    agree_case, disagree_case = study.cases.order_by("pk")
    for case, scores in ((agree_case, AGREE), (disagree_case, DISAGREE)):
        for rater, values in scores.items():
            assignment = Assignment.objects.get(case=case, rater__username=rater)
            rating_submit(assignment=assignment, values=values, reading_time_s=10.0)
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True)
    adjudication_record(case=disagree_case, adjudicator=personas["olivia"], values=FINAL)
    return study, study_uid, agree_case, disagree_case


def walk(items):
    for item in items:
        yield item
        yield from walk(item.get("ContentSequence", []))


def concept(item) -> str:
    return item.ConceptNameCodeSequence[0].CodeValue


def read_report(ds) -> dict:
    """What a reader of the SR finds: the measurements (code -> value, unit, laterality), the score
    source, the observer, the tracking identifier and the images it refers to."""
    out = {"measurements": {}, "images": [], "observer": None, "device": None}
    for item in walk(ds.ContentSequence):
        kind = item.ValueType
        if kind == "NUM":
            sites = [
                site.ConceptCodeSequence[0].CodeValue
                for site in walk(item.get("ContentSequence", []))
                if concept(site) == "272741003"  # Laterality
            ]
            number = item.MeasuredValueSequence[0]
            out["measurements"][concept(item)] = (
                float(number.NumericValue),
                number.MeasurementUnitsCodeSequence[0].CodeValue,
                sites[0] if sites else None,
            )
        elif kind == "IMAGE":
            ref = item.ReferencedSOPSequence[0]
            out["images"].append((ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID))
        elif kind == "CODE" and concept(item) == "score_source":
            out["source"] = item.ConceptCodeSequence[0].CodeValue
        elif kind == "CODE" and concept(item) == "370129005":  # Measurement Method
            out["method"] = item.ConceptCodeSequence[0].CodeValue
        elif kind == "PNAME" and concept(item) == "121008":  # Person Observer Name
            out["observer"] = str(item.PersonName).rstrip("^")
        elif kind == "TEXT" and concept(item) == "121013":  # Device Observer Name
            out["device"] = item.TextValue
        elif kind == "TEXT" and concept(item) == "112039":  # Tracking Identifier
            out["tracking"] = item.TextValue
    return out


def reports_in_orthanc(study_uid: str) -> list:
    session = requests.Session()
    session.auth = (USERNAME, PASSWORD)
    client = DICOMwebClient(orthanc_archive().dicomweb_url, session=session)
    found = client.search_for_series(study_instance_uid=study_uid, search_filters={"Modality": "SR"})
    out = []
    for series in found:
        series_uid = series["0020000E"]["Value"][0]
        for instance in client.search_for_instances(study_instance_uid=study_uid, series_instance_uid=series_uid):
            out.append(client.retrieve_instance(study_uid, series_uid, instance["00080018"]["Value"][0]))
    return out


def test_final_and_per_rater_reports_read_back_over_wado_with_every_value(scored_study, settings):
    study, study_uid, agree_case, disagree_case = scored_study
    settings.DICOMWEB_USERNAME, settings.DICOMWEB_PASSWORD = USERNAME, PASSWORD
    out = io.StringIO()
    call_command("export_sr", study.slug, "--stow", orthanc_archive().dicomweb_url, "--per-rater", stdout=out)
    assert "stored 8 reports" in out.getvalue()  # 2 cases x (final + 3 raters)

    documents = reports_in_orthanc(study_uid)
    assert len(documents) == 8
    by_case: dict[str, list] = {}
    for ds in documents:
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33"  # Comprehensive SR Storage
        assert ds.StudyInstanceUID == study_uid and ds.PatientID == "SR-PAT" and ds.Modality == "SR"
        assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
        report = read_report(ds)
        by_case.setdefault(report["tracking"], []).append(report)
        evidence = ds.CurrentRequestedProcedureEvidenceSequence[0]
        assert evidence.StudyInstanceUID == study_uid
        referenced = evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        assert report["images"] == [("1.2.840.10008.5.1.4.1.1.1", referenced)]

    for case, scores, final in ((agree_case, AGREE, None), (disagree_case, DISAGREE, FINAL)):
        reports = by_case[f"case {case.public_id}"]
        assert {image for report in reports for image in report["images"]} == {
            ("1.2.840.10008.5.1.4.1.1.1", case.dicom_sop_instance_uid)
        }
        assert all(report["method"] == "rubric_cohen2020" for report in reports)
        (final_report,) = [report for report in reports if report["device"]]
        assert final_report["device"] == "CXR severity consensus"
        expected = (
            totals(final)
            if final
            else {
                key: mean(totals(values)[key] for values in scores.values()) for key in ("geographic_extent", "opacity")
            }
        )
        assert final_report["source"] == ("adjudicated" if final else "consensus_mean")
        assert final_report["measurements"] == {
            "extent_total": (pytest.approx(expected["geographic_extent"], abs=1e-4), "{score}", BOTH),
            "opacity": (pytest.approx(expected["opacity"], abs=1e-4), "{score}", BOTH),
            "raters": (3.0, "{raters}", None),
        }
        raters = {report["observer"]: report for report in reports if report["observer"]}
        assert set(raters) == set(scores)
        for rater, values in scores.items():
            assert raters[rater]["source"] == "rater"
            assert raters[rater]["measurements"] == {
                **{key: (float(values[key]), "{score}", SIDE[key]) for key in ITEMS},
                "extent_total": (float(totals(values)["geographic_extent"]), "{score}", BOTH),
                "opacity": (float(totals(values)["opacity"]), "{score}", BOTH),
            }
    event = AuditEvent.objects.get(study=study, action=AuditEvent.Action.EXPORT)
    assert event.target == "DICOM SR (8 reports)" and PASSWORD not in str(event.details)


def test_sending_the_same_scores_again_replaces_the_reports_instead_of_adding_copies(scored_study, settings):
    study, study_uid, *_ = scored_study
    settings.DICOMWEB_URL = orthanc_archive().dicomweb_url  # --stow without a URL: the settings' archive
    settings.DICOMWEB_USERNAME, settings.DICOMWEB_PASSWORD = USERNAME, PASSWORD
    for _ in range(2):
        call_command("export_sr", study.slug, "--stow", stdout=io.StringIO())
    assert len(reports_in_orthanc(study_uid)) == 2


def test_refused_credentials_stop_the_export_with_the_reason(scored_study, settings):
    study, study_uid, *_ = scored_study
    settings.DICOMWEB_USERNAME, settings.DICOMWEB_PASSWORD = USERNAME, "wrong"
    with pytest.raises(CommandError, match=r"the reports were not stored: .* refused the credentials \(HTTP 401\)"):
        call_command("export_sr", study.slug, "--stow", orthanc_archive().dicomweb_url, stdout=io.StringIO())
    assert reports_in_orthanc(study_uid) == []
    assert not AuditEvent.objects.filter(study=study, action=AuditEvent.Action.EXPORT).exists()


def test_a_blind_study_names_raters_by_their_labels_and_the_zip_holds_the_same_reports(scored_study, tmp_path):
    study, study_uid, agree_case, _ = scored_study
    Study.objects.filter(pk=study.pk).update(adjudication_blind=True)
    path = tmp_path / "reports.zip"
    call_command("export_sr", study.slug, "--out", str(path), "--per-rater", stdout=io.StringIO())

    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    assert len(files) == 8 and f"{agree_case.public_id}/final.dcm" in files
    assert {f"{agree_case.public_id}/Rater-{letter}.dcm" for letter in "ABC"} <= set(files)
    observers = {read_report(pydicom.dcmread(io.BytesIO(data)))["observer"] for data in files.values()} - {None}
    assert observers == {"Rater A", "Rater B", "Rater C"}
    for username in ("rater1", "rater2", "rater3"):
        assert not any(username.encode() in data or username in name for name, data in files.items())
    assert reports_in_orthanc(study_uid) == []  # a zip only: nothing was sent
