"""The report resamples patients (all their cases together) when cases share a patient id, and says
which unit it resampled; without serial images it resamples cases exactly as before (issue 15)."""

import pytest

from annotation.csv_io import ratings_csv_import
from annotation.services import cases_apply_metadata
from scoring.agreement import agreement_summary
from scoring.selectors import agreement_report_current, study_score_table
from scoring.services import agreement_report_execute, agreement_report_request

RATERS = ("rater1", "rater2", "rater3")
RATINGS = "image,rater,extent_right,extent_left,opacity_right,opacity_left\n" + "\n".join(
    f"c{i}.png,{rater},{(i // 3 + r) % 5},{(i // 3 * 2 + r // 2) % 5},{(i // 3 + r) % 4},{i % 4}"
    for i in range(12)
    for r, rater in enumerate(RATERS)
)


@pytest.fixture
def study(make_study):
    study = make_study(n_cases=0, open_it=False, raters=RATERS, raters_per_case=3)
    ratings_csv_import(study=study, data=RATINGS.encode(), allow_missing_images=True)
    return study


def _report(study, client_for) -> dict:
    agreement_report_execute(report_id=agreement_report_request(study=study).pk)
    return client_for("alice").get(f"/studies/{study.slug}/report.json").json()


def test_cases_are_resampled_when_no_patient_has_two(study, client_for):
    data = _report(study, client_for)
    assert data["bootstrap"]["unit"] == "case" and data["bootstrap"]["n_units"] == 12
    assert data["bootstrap"]["interval_methods"]["ci95_bca"].startswith("BCa")
    page = client_for("alice").get(f"/studies/{study.slug}/report/").content.decode()
    assert "percentile bootstrap over cases" in page


def test_patients_are_resampled_with_all_their_cases(study, client_for):
    # Three serial images per patient, and one case whose patient is unknown (its own unit).
    for case in study.cases.all():
        number = int(case.original_filename[1:].split(".")[0])
        case.patient_id = "" if number == 11 else f"P{number // 3}"
        case.save(update_fields=["patient_id"])
    table = study_score_table(study=study)
    data = _report(study, client_for)
    assert data["bootstrap"]["unit"] == "patient" and data["bootstrap"]["n_units"] == 5
    # The stored CI is the one the pure function gives with the patients as clusters.
    expected = agreement_summary(
        table.matrices["geographic_extent"],
        table.raters,
        domain=list(range(0, 9)),
        categorical=False,
        n_boot=data["bootstrap"]["resamples"],
        seed=data["bootstrap"]["seed"],
        clusters=[pid or f"case{i}" for i, pid in enumerate(table.patient_ids)],
    )
    interval = data["scores"]["geographic_extent"]["krippendorff_alpha"]["interval"]
    assert interval["ci95"] == pytest.approx(expected["krippendorff_alpha"]["interval"]["ci95"])
    page = client_for("alice").get(f"/studies/{study.slug}/report/").content.decode()
    assert "5 patients, each with all their cases" in page


def test_new_patient_ids_make_the_report_out_of_date(study):
    # The bootstrap's units follow the patient ids: a report computed before they change is stale.
    report = agreement_report_request(study=study)
    agreement_report_execute(report_id=report.pk)
    assert agreement_report_current(study=study).pk == report.pk
    cases_apply_metadata(study=study, metadata={"c0.png": {"filename": "c0.png", "patientid": "P1"}})
    assert agreement_report_current(study=study) is None
    report = agreement_report_request(study=study)
    agreement_report_execute(report_id=report.pk)
    cases_apply_metadata(study=study, metadata={"c0.png": {"filename": "c0.png", "patientid": "P1"}})
    assert agreement_report_current(study=study).pk == report.pk  # the same ids again: still current
