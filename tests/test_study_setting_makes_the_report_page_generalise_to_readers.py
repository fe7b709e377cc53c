"""An owner chooses, in the study's settings (page and API), what the report's intervals generalise
to: these raters (cases resampled) or raters like them (cases and raters resampled, the two-way
bootstrap). The cached report is computed again under the new choice, the change is audited, and
the command line follows the study unless told otherwise (issue 15, Intervals)."""

import json

from django.core.management import call_command

from annotation.models import AuditEvent, Study
from scoring.services import agreement_report_execute, agreement_report_request
from tests.conftest import STUDY_SETTINGS_FORM, imported_ratings_study

SETTINGS = STUDY_SETTINGS_FORM


def _study(make_study) -> Study:
    return imported_ratings_study(make_study, n_images=16)


def _page_report(study: Study) -> dict:
    report = agreement_report_request(study=study)
    agreement_report_execute(report_id=report.pk)
    report.refresh_from_db()
    return report.data


def test_the_settings_page_switches_the_cached_report_to_the_two_way_bootstrap(make_study, client_for):
    study = _study(make_study)
    assert _page_report(study)["bootstrap"]["raters"] == "fixed"
    version = study.ratings_version

    page = client_for("alice").get(f"/studies/{study.slug}/").content.decode()
    assert 'name="bootstrap_raters"' in page and "Raters like them" in page
    response = client_for("alice").post(f"/studies/{study.slug}/settings/", {**SETTINGS, "bootstrap_raters": "random"})
    assert response.status_code == 302
    study.refresh_from_db()
    assert study.bootstrap_raters == "random" and study.ratings_version == version + 1  # the old report is stale
    event = AuditEvent.objects.filter(study=study, action=AuditEvent.Action.SETTINGS_CHANGE).latest("pk")
    assert event.details == {"before": {"bootstrap_raters": "fixed"}, "after": {"bootstrap_raters": "random"}}

    data = _page_report(study)
    assert data["bootstrap"]["raters"] == "random" and data["bootstrap"]["resampling"] == "cases_and_raters"
    assert "two-way" in data["ci_methods"]["krippendorff_alpha"]
    html = client_for("alice").get(f"/studies/{study.slug}/report/").content.decode()
    assert "and raters (two-way bootstrap, readers random" in html


def test_a_form_without_the_field_leaves_it_and_a_bad_value_is_refused(make_study, client_for):
    study = _study(make_study)
    Study.objects.filter(pk=study.pk).update(bootstrap_raters="random")
    client_for("alice").post(f"/studies/{study.slug}/settings/", {**SETTINGS, "title": "Renamed"})
    study.refresh_from_db()
    assert (study.title, study.bootstrap_raters) == ("Renamed", "random")
    response = client_for("alice").post(f"/studies/{study.slug}/settings/", {**SETTINGS, "bootstrap_raters": "some"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    study.refresh_from_db()
    assert study.bootstrap_raters == "random"


def test_the_api_sets_it_and_the_command_line_follows_the_study(make_study, client_for, capsys):
    study = _study(make_study)
    client = client_for("alice")
    response = client.patch(
        f"/api/v1/studies/{study.slug}/", {"bootstrap_raters": "random"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["bootstrap_raters"] == "random"
    bad = client.patch(f"/api/v1/studies/{study.slug}/", {"bootstrap_raters": "x"}, content_type="application/json")
    assert bad.status_code == 400

    call_command("agreement_report", study.slug, "--bootstrap", "50")
    assert json.loads(capsys.readouterr().out)["bootstrap"]["raters"] == "random"
    call_command("agreement_report", study.slug, "--bootstrap", "50", "--raters", "fixed")
    assert json.loads(capsys.readouterr().out)["bootstrap"]["raters"] == "fixed"
