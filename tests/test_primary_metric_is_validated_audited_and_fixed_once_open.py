"""The pre-specified primary metric (issue 15, Reporting): set in the settings form, the API or
create_study; refused with a clear reason when it is not a metric of the report or not a total of
the rubric; audited; carried by backups; fixed once the study opens (pre-specified: before data)."""

import pytest
from django.core.management import CommandError, call_command

from annotation.analysis_plan import PRIMARY_METRICS
from annotation.models import AuditEvent, Study
from annotation.services import study_update
from annotation.services.studies import StudyStateError
from backup.archive import study_manifest
from scoring.agreement.summary import PRIMARY_METRIC_ENTRIES
from tests.api_support import API, api_client, error_of
from tests.conftest import STUDY_SETTINGS_FORM

SETTINGS = STUDY_SETTINGS_FORM


def _set(study: Study, metric: str, score: str, actor=None) -> Study:
    return study_update(
        study=study,
        title=study.title,
        rubric=study.rubric,
        raters_per_case=study.raters_per_case,
        primary_metric=metric,
        primary_score=score,
        actor=actor,
    )


def test_every_choice_is_a_metric_the_report_computes():
    assert set(PRIMARY_METRICS) == set(PRIMARY_METRIC_ENTRIES)


def test_the_settings_form_sets_it_and_the_change_is_audited(make_study, client_for):
    study = make_study(n_cases=1, open_it=False)
    page = client_for("alice").get(f"/studies/{study.slug}/").content.decode()
    assert 'name="primary_metric"' in page and '<option value="geographic_extent">' in page
    posted = {**SETTINGS, "primary_metric": "icc_2_1", "primary_score": "geographic_extent"}
    assert client_for("alice").post(f"/studies/{study.slug}/settings/", posted).status_code == 302
    study.refresh_from_db()
    assert (study.primary_metric, study.primary_score) == ("icc_2_1", "geographic_extent")
    event = AuditEvent.objects.get(study=study, action=AuditEvent.Action.SETTINGS_CHANGE)
    assert event.details["before"] == {"primary_metric": "", "primary_score": ""}
    assert event.details["after"] == {"primary_metric": "icc_2_1", "primary_score": "geographic_extent"}


@pytest.mark.parametrize(
    ("metric", "score", "message"),
    [
        ("kappa_of_sorts", "opacity", "unknown primary metric 'kappa_of_sorts'; the metrics are krippendorff_alpha"),
        ("lin_ccc", "", "a primary metric needs the total it applies to (--primary-score): one of geographic_extent"),
        ("", "opacity", "a primary score needs its metric"),
        ("lin_ccc", "extent_left", "unknown primary score 'extent_left' for rubric cohen2020; its totals are"),
    ],
)
def test_a_bad_choice_is_refused_with_the_reason(make_study, metric, score, message):
    study = make_study(n_cases=0, open_it=False)
    with pytest.raises(StudyStateError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _set(study, metric, score)
    study.refresh_from_db()
    assert (study.primary_metric, study.primary_score) == ("", "")


def test_it_is_fixed_once_the_study_opens(make_study, client_for, personas):
    study = make_study(n_cases=1, open_it=False)
    _set(study, "krippendorff_alpha", "opacity", actor=personas["alice"])
    from annotation.services import study_open

    study_open(study=study)
    with pytest.raises(StudyStateError, match="fixed once the study opened"):
        _set(study, "icc_2_1", "opacity")
    page = client_for("alice").get(f"/studies/{study.slug}/").content.decode()
    field = page[page.index('name="primary_metric"') - 200 : page.index('name="primary_metric"') + 200]
    assert "disabled" in field
    client_for("alice").post(
        f"/studies/{study.slug}/settings/", {**SETTINGS, "primary_metric": "lin_ccc", "primary_score": "opacity"}
    )
    study.refresh_from_db()
    assert (study.primary_metric, study.primary_score) == ("krippendorff_alpha", "opacity")


def test_the_api_reads_and_sets_it_and_explains_a_refusal(make_study, personas):
    study = make_study(n_cases=0, open_it=False)
    alice = api_client(personas["alice"])
    changed = alice.patch(
        f"{API}/studies/{study.slug}/", {"primary_metric": "gwet_ac2", "primary_score": "opacity"}, format="json"
    )
    assert changed.status_code == 200
    assert (changed.json()["primary_metric"], changed.json()["primary_score"]) == ("gwet_ac2", "opacity")
    unknown = alice.patch(f"{API}/studies/{study.slug}/", {"primary_metric": "accuracy"}, format="json")
    assert unknown.status_code == 400 and "primary_metric" in error_of(unknown)["fields"]
    bad_score = alice.patch(f"{API}/studies/{study.slug}/", {"primary_score": "nope"}, format="json")
    assert bad_score.status_code == 409 and "unknown primary score 'nope'" in error_of(bad_score)["message"]
    assert alice.get(f"{API}/studies/{study.slug}/").json()["primary_score"] == "opacity"


def test_create_study_takes_it_on_the_command_line(personas):
    call_command(
        "create_study",
        "planned",
        "--rubric",
        "brixia",
        "--owner",
        "alice",
        "--primary-metric",
        "icc_2_1",
        "--primary-score",
        "brixia",
    )
    study = Study.objects.get(slug="planned")
    assert (study.primary_metric, study.primary_score) == ("icc_2_1", "brixia")
    with pytest.raises(CommandError, match="unknown primary metric 'alpha'; the metrics are krippendorff_alpha"):
        call_command("create_study", "other", "--rubric", "brixia", "--owner", "alice", "--primary-metric", "alpha")
    assert not Study.objects.filter(slug="other").exists()


def test_a_backup_carries_it(make_study):
    study = make_study(n_cases=0, open_it=False)
    _set(study, "weighted_kappa", "geographic_extent")
    manifest = study_manifest(study=study)
    assert (manifest["study"]["primary_metric"], manifest["study"]["primary_score"]) == (
        "weighted_kappa",
        "geographic_extent",
    )
