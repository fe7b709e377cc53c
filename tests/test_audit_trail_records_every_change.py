"""Issue 8, audit trail: every change is recorded once, in its own transaction, and only owners read it."""

import csv
import io
import json

import pytest
from django.core.management import call_command

from annotation.audit import audit_record
from annotation.models import Assignment, AuditEvent, StudyMembership
from annotation.rubrics import RubricValueError
from annotation.services import (
    StudyStateError,
    adjudication_record,
    assignment_flag,
    membership_add,
    membership_set_adjudicator,
    rating_submit,
    study_lock,
)
from scoring.models import ModelVersion
from scoring.services import model_version_activate
from tests.conftest import COHEN_VALUES

Action = AuditEvent.Action


@pytest.fixture
def study(make_study):
    return make_study(n_cases=3)


def only_new_event(study, before: int) -> AuditEvent:
    events = list(AuditEvent.objects.filter(study=study).order_by("-pk")[: AuditEvent.objects.count() - before])
    assert len(events) == 1, [(e.action, e.target) for e in events]
    return events[0]


def mine(study, personas, rater="rater1") -> Assignment:
    return Assignment.objects.filter(study=study, rater=personas[rater]).select_related("case").first()


def test_each_rating_revision_is_one_event_naming_the_rater_case_and_revision(study, personas):
    assignment = mine(study, personas)
    for revision in (1, 2):
        before = AuditEvent.objects.count()
        rating_submit(assignment=assignment, values=COHEN_VALUES, reading_time_s=5.0)
        event = only_new_event(study, before)
        assert (event.action, event.actor, event.target) == (
            Action.RATING_REVISION,
            personas["rater1"],
            assignment.case.public_id,
        )
        assert {key: event.details[key] for key in ("revision", "source", "assignment")} == {
            "revision": revision,
            "source": "web",
            "assignment": assignment.public_id,
        }
        assert event.created_at is not None


def test_a_retried_submission_with_the_same_key_records_nothing_more(study, personas):
    assignment = mine(study, personas)
    rating_submit(assignment=assignment, values=COHEN_VALUES, client_key="k1")
    before = AuditEvent.objects.count()
    rating_submit(assignment=assignment, values=COHEN_VALUES, client_key="k1")
    assert AuditEvent.objects.count() == before


def test_flag_adjudicator_right_and_adjudication_are_each_one_event(study, personas):
    assignment, alice, olivia = mine(study, personas), personas["alice"], personas["olivia"]

    before = AuditEvent.objects.count()
    assignment_flag(assignment=assignment, reason="wrong_view")
    event = only_new_event(study, before)
    assert (event.action, event.actor, event.target, event.details["reason"]) == (
        Action.FLAG,
        personas["rater1"],
        assignment.case.public_id,
        "wrong_view",
    )

    before = AuditEvent.objects.count()
    membership_set_adjudicator(study=study, user=olivia, allowed=True, actor=alice)
    event = only_new_event(study, before)
    assert (event.action, event.actor, event.target, event.details) == (
        Action.ADJUDICATOR_CHANGE,
        alice,
        "olivia",
        {"can_adjudicate": True},
    )

    before = AuditEvent.objects.count()
    adjudication_record(case=assignment.case, adjudicator=olivia, values=COHEN_VALUES)
    event = only_new_event(study, before)
    assert (event.action, event.actor, event.target, event.details["revision"]) == (
        Action.ADJUDICATION,
        olivia,
        assignment.case.public_id,
        1,
    )


def test_membership_add_and_role_change_are_each_one_event(study, personas):
    alice, oscar = personas["alice"], personas["oscar"]
    before = AuditEvent.objects.count()
    membership_add(study=study, user=oscar, role=StudyMembership.Role.OBSERVER, actor=alice)
    event = only_new_event(study, before)
    assert (event.action, event.actor, event.target, event.details) == (
        Action.MEMBER_ADD,
        alice,
        "oscar",
        {"role": "observer"},
    )

    before = AuditEvent.objects.count()
    membership_add(study=study, user=oscar, role=StudyMembership.Role.OWNER, actor=alice)
    event = only_new_event(study, before)
    assert (event.action, event.target, event.details) == (
        Action.ROLE_CHANGE,
        "oscar",
        {"from": "observer", "to": "owner"},
    )

    before = AuditEvent.objects.count()
    membership_add(study=study, user=oscar, role=StudyMembership.Role.OWNER, actor=alice)  # no change
    assert AuditEvent.objects.count() == before


def test_open_lock_and_model_promotion_are_each_one_event(make_study, personas):
    alice = personas["alice"]
    study = make_study(n_cases=2, open_it=False)
    from annotation.services import study_open

    before = AuditEvent.objects.count()
    study_open(study=study, actor=alice)
    event = only_new_event(study, before)
    assert (event.action, event.actor) == (Action.OPEN, alice)

    version = ModelVersion.objects.create(study=study, number=2, backbone="b", feature_set="lung_opacity", head={})
    before = AuditEvent.objects.count()
    model_version_activate(version=version, actor=alice)
    event = only_new_event(study, before)
    assert (event.action, event.actor, event.target, event.details) == (
        Action.MODEL_PROMOTION,
        alice,
        "2",
        {"previous": None},
    )

    before = AuditEvent.objects.count()
    study_lock(study=study, actor=alice)
    event = only_new_event(study, before)
    assert (event.action, event.actor, event.target) == (Action.LOCK, alice, study.slug)


def test_refused_actions_record_nothing(study, personas):
    assignment = mine(study, personas)
    before = AuditEvent.objects.count()
    with pytest.raises(RubricValueError):
        rating_submit(assignment=assignment, values={"extent_right": 2})
    with pytest.raises(StudyStateError):  # a rater cannot adjudicate
        membership_set_adjudicator(study=study, user=personas["rater2"], allowed=True, actor=personas["alice"])
    with pytest.raises(StudyStateError):  # olivia has no adjudicator right
        adjudication_record(case=assignment.case, adjudicator=personas["olivia"], values=COHEN_VALUES)
    assert AuditEvent.objects.count() == before

    study_lock(study=study)
    before = AuditEvent.objects.count()
    with pytest.raises(StudyStateError):
        rating_submit(assignment=assignment, values=COHEN_VALUES)
    with pytest.raises(StudyStateError):
        assignment_flag(assignment=assignment, reason="wrong_view")
    with pytest.raises(StudyStateError):
        membership_add(study=study, user=personas["oscar"], role=StudyMembership.Role.RATER)
    assert AuditEvent.objects.count() == before


def test_web_actions_record_the_acting_owner(study, personas, client_for):
    response = client_for("alice").post(f"/studies/{study.slug}/lock/")
    assert response.status_code == 302
    event = AuditEvent.objects.filter(study=study).first()  # newest first
    assert (event.action, event.actor) == (Action.LOCK, personas["alice"])


def test_owner_sees_the_trail_newest_first_with_pages(study, personas, client_for):
    assignment = mine(study, personas)
    rating_submit(assignment=assignment, values=COHEN_VALUES)
    for i in range(60):
        audit_record(study=study, actor=None, action=Action.LOCK, target=f"t{i:02d}")
    page = client_for("alice").get(f"/studies/{study.slug}/audit/")
    assert page.status_code == 200
    text = page.content.decode()
    filename = assignment.case.original_filename
    assert text.index("t59") < text.index("t58") and filename not in text  # the rating is on page 2
    older = client_for("alice").get(f"/studies/{study.slug}/audit/?page=2").content.decode()
    assert filename in older and "<td>rater1</td>" in older
    assert f"/studies/{study.slug}/audit/" in client_for("alice").get(f"/studies/{study.slug}/").content.decode()


@pytest.mark.parametrize("name", ["rater1", "olivia", "oscar"])
def test_everyone_but_owners_gets_404_for_the_trail(study, client_for, name):
    for url in (f"/studies/{study.slug}/audit/", f"/studies/{study.slug}/export/audit.csv"):
        assert client_for(name).get(url).status_code == 404


def test_anonymous_is_sent_to_login(study, client):
    response = client.get(f"/studies/{study.slug}/audit/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_csv_export_and_command_carry_the_trail(study, personas, client_for):
    assignment = mine(study, personas)
    rating_submit(assignment=assignment, values=COHEN_VALUES)
    response = client_for("alice").get(f"/studies/{study.slug}/export/audit.csv")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    last = rows[-1]  # oldest first
    # An id that starts with "-" (1 in 64) leaves the safe CSV writer with a leading quote.
    target = last["target"].removeprefix("'")
    assert (last["actor"], last["action"], target) == ("rater1", "rating_revision", assignment.case.public_id)
    assert json.loads(last["details"])["revision"] == 1
    out = io.StringIO()
    call_command("export_audit", study.slug, stdout=out)
    # The same trail, and since then the owner's export of it (each export is recorded).
    web = response.content.decode()
    assert out.getvalue().startswith(web)
    (since,) = csv.DictReader(io.StringIO(web.splitlines(keepends=True)[0] + out.getvalue()[len(web) :]))
    assert (since["actor"], since["action"], since["target"]) == ("alice", "export", "audit.csv")
    assert AuditEvent.objects.filter(study=study, action=Action.EXPORT, actor=None).count() == 1  # the command
