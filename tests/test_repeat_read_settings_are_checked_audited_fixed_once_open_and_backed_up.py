"""The repeat-read settings: refused with crossover and prelabel (and out of range) with a clear
message, audited, fixed once the study opens, set from the page, the API and create_study, and
kept by a backup with the repeat reads and their washouts."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from annotation.models import Assignment, AuditEvent, Study
from annotation.services import StudyStateError, rating_submit, study_open, study_update
from annotation.services.studies import REPEAT_NEEDS_OWN_READS
from backup.archive import study_export, study_import
from tests.api_support import API, api_client
from tests.conftest import COHEN_VALUES


def _update(study, **settings):
    return study_update(
        study=study, title=study.title, rubric=study.rubric, raters_per_case=study.raters_per_case, **settings
    )


@pytest.mark.parametrize("mode", [Study.ModelAssistance.CROSSOVER, Study.ModelAssistance.PRELABEL])
def test_repeat_reads_are_refused_with_crossover_and_prelabel(make_study, mode):
    study = make_study(n_cases=0, open_it=False)
    with pytest.raises(StudyStateError, match="repeat reads need model assistance none or shown"):
        _update(study, model_assistance=mode, repeat_fraction=0.2)
    _update(study, model_assistance=mode)  # without repeat reads it is fine
    with pytest.raises(StudyStateError, match="repeat reads need"):
        _update(study, repeat_fraction=0.1)


@pytest.mark.parametrize(
    "bad",
    [
        {"repeat_fraction": 1.5},
        {"repeat_fraction": -0.1},
        {"repeat_fraction": float("nan")},
        {"repeat_washout_days": -1},
        {"repeat_washout_cases": 10**6},
    ],
)
def test_out_of_range_repeat_settings_are_refused(make_study, bad):
    study = make_study(n_cases=0, open_it=False)
    with pytest.raises(StudyStateError, match="repeat"):
        _update(study, **bad)
    study.refresh_from_db()
    assert (study.repeat_fraction, study.repeat_washout_days, study.repeat_washout_cases) == (0.0, 14, 20)


def test_repeat_settings_are_audited_and_fixed_once_the_study_opens(make_study, personas):
    study = make_study(n_cases=2, open_it=False)
    _update(study, repeat_fraction=0.5, repeat_washout_days=7, repeat_washout_cases=3, actor=personas["alice"])
    event = AuditEvent.objects.get(study=study, action=AuditEvent.Action.SETTINGS_CHANGE)
    assert event.details["before"] == {"repeat_fraction": 0.0, "repeat_washout_days": 14, "repeat_washout_cases": 20}
    assert event.details["after"] == {"repeat_fraction": 0.5, "repeat_washout_days": 7, "repeat_washout_cases": 3}
    study_open(study=study)
    with pytest.raises(StudyStateError, match="fixed once the study opened"):
        _update(study, repeat_washout_days=1)
    response = api_client(personas["alice"]).patch(f"{API}/studies/{study.slug}/", {"repeat_fraction": 0.1})
    assert response.status_code == 409
    body = api_client(personas["alice"]).get(f"{API}/studies/{study.slug}/").json()
    assert (body["repeat_fraction"], body["repeat_washout_days"], body["repeat_washout_cases"]) == (0.5, 7, 3)


def test_the_api_and_the_settings_page_set_them_while_a_draft(make_study, personas, client_for):
    study = make_study(n_cases=0, open_it=False)
    client = api_client(personas["alice"])
    response = client.patch(f"{API}/studies/{study.slug}/", {"repeat_fraction": 0.2, "repeat_washout_days": 30})
    assert response.status_code == 200 and response.json()["repeat_fraction"] == 0.2
    refused = client.patch(f"{API}/studies/{study.slug}/", {"repeat_fraction": 2})
    assert refused.status_code == 400
    crossover = client.patch(f"{API}/studies/{study.slug}/", {"model_assistance": "crossover"})
    assert crossover.status_code == 409 and REPEAT_NEEDS_OWN_READS in crossover.json()["error"]["message"]
    page = client_for("alice").post(
        f"/studies/{study.slug}/settings/",
        {
            "title": study.title,
            "rubric": study.rubric,
            "raters_per_case": 3,
            "consensus_method": "mean",
            "adjudication_range": 3,
            "model_assistance": "none",
            "crossover_gap": 5,
            "repeat_fraction": "0.25",
            "repeat_washout_days": "10",
            "repeat_washout_cases": "5",
            "queue_order": "random",
        },
    )
    assert page.status_code == 302
    study.refresh_from_db()
    assert (study.repeat_fraction, study.repeat_washout_days, study.repeat_washout_cases) == (0.25, 10, 5)


def test_create_study_takes_the_repeat_settings_and_refuses_them_with_crossover(personas):
    out = io.StringIO()
    call_command(
        "create_study",
        "retest",
        "--rubric",
        "cohen2020",
        "--owner",
        "alice",
        "--repeat-fraction",
        "0.1",
        "--repeat-washout-days",
        "28",
        stdout=out,
    )
    study = Study.objects.get(slug="retest")
    assert (study.repeat_fraction, study.repeat_washout_days, study.repeat_washout_cases) == (0.1, 28, 20)
    assert "repeat reads 0.1" in out.getvalue()
    with pytest.raises(CommandError, match="repeat reads need"):
        call_command(
            "create_study",
            "retest2",
            "--rubric",
            "cohen2020",
            "--owner",
            "alice",
            "--model-assistance",
            "crossover",
            "--repeat-fraction",
            "0.1",
            stdout=io.StringIO(),
        )
    assert not Study.objects.filter(slug="retest2").exists()


def test_a_backup_keeps_the_settings_the_repeat_reads_and_their_washouts(make_study, personas, tmp_path):
    study = make_study(n_cases=4, open_it=False)
    _update(study, repeat_fraction=0.5, repeat_washout_days=9, repeat_washout_cases=1)
    study_open(study=study)
    user = personas["rater1"]
    repeat = study.assignments.filter(rater=user, repeat=True).first()
    rating_submit(
        assignment=study.assignments.get(rater=user, case_id=repeat.case_id, repeat=False), values=COHEN_VALUES
    )
    repeat.refresh_from_db()
    assert repeat.available_at is not None and repeat.available_at > timezone.now()
    path = tmp_path / "s1.zip"
    with open(path, "wb") as handle:
        study_export(study=study, output=handle)
    study.delete()
    restored = study_import(source=str(path))
    assert (restored.repeat_fraction, restored.repeat_washout_days, restored.repeat_washout_cases) == (0.5, 9, 1)
    again = Assignment.objects.get(public_id=repeat.public_id)
    assert again.repeat and again.available_at == repeat.available_at
    assert again.available_after_done == repeat.available_after_done
    assert restored.assignments.filter(repeat=True).count() == 6
