"""The settings form: what may no longer change after opening is shown read-only with the reason;
a form with one invalid field keeps every other value typed; every change is audited before/after."""

from annotation.models import AuditEvent
from annotation.services.studies import DESIGN_SETTINGS

SETTINGS = {
    "title": "Renamed",
    "rubric": "cohen2020",
    "raters_per_case": 3,
    "consensus_method": "median",
    "adjudication_range": 3,
    "model_assistance": "none",
    "crossover_gap": 5,
}


def test_design_is_read_only_with_the_reason_once_open(make_study, client_for):
    study = make_study(n_cases=1)
    html = client_for("alice").get(f"/studies/{study.slug}/").content.decode()
    assert html.count("Fixed once the study opened: raters have read under it.") == len(DESIGN_SETTINGS)
    assert 'name="rubric" disabled' in html or ('name="rubric"' in html and "disabled" in html)
    # A posted change to a fixed setting is ignored (disabled field), the others are saved.
    response = client_for("alice").post(
        f"/studies/{study.slug}/settings/", {**SETTINGS, "rubric": "brixia", "raters_per_case": 1}
    )
    assert response.status_code == 302
    study.refresh_from_db()
    assert (study.rubric, study.raters_per_case, study.title, study.consensus_method) == (
        "cohen2020",
        3,
        "Renamed",
        "median",
    )
    event = AuditEvent.objects.get(study=study, action=AuditEvent.Action.SETTINGS_CHANGE)
    assert event.details == {
        "before": {"title": "Study one", "consensus_method": "mean"},
        "after": {"title": "Renamed", "consensus_method": "median"},
    }


def test_an_invalid_field_keeps_the_valid_values_typed(make_study, client_for):
    study = make_study(n_cases=1, open_it=False)
    response = client_for("alice").post(
        f"/studies/{study.slug}/settings/", {**SETTINGS, "title": "Kept title", "adjudication_range": 0}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'value="Kept title"' in html
    assert "greater than or equal to 1" in html
    study.refresh_from_db()
    assert study.title == "Study one"  # nothing half-saved
    assert not AuditEvent.objects.filter(study=study, action=AuditEvent.Action.SETTINGS_CHANGE).exists()


def test_a_draft_may_change_its_design(make_study, client_for):
    study = make_study(n_cases=1, open_it=False)
    client_for("alice").post(f"/studies/{study.slug}/settings/", {**SETTINGS, "rubric": "brixia"})
    study.refresh_from_db()
    assert study.rubric == "brixia"
