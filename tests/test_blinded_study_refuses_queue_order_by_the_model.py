"""A blinded reader study (model assistance none or crossover) keeps each rater's seeded random
order: ordering by the model is refused with the reason by the service, the settings page, the API
and the command line, a study made blinded again in its draft refuses or drops the order, and the
reordering service leaves a blinded study's queues alone."""

import html

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Assignment, Study
from annotation.services import StudyStateError, study_open, study_update
from annotation.services.queues import rater_queues_prioritise
from tests.api_support import API, api_client, error_of

BLINDED = "a blinded reader study keeps each rater's seeded random order"


def design(study: Study, **changes) -> Study:
    return study_update(study=study, title=study.title, rubric="cohen2020", raters_per_case=3, **changes)


@pytest.mark.parametrize("mode", ["none", "crossover"])
@pytest.mark.parametrize("order", ["uncertainty", "disagreement"])
def test_the_service_refuses_and_changes_nothing(make_study, mode, order):
    study = make_study(open_it=False)
    design(study, model_assistance=mode)
    with pytest.raises(StudyStateError, match=BLINDED):
        design(study, queue_order=order)
    study.refresh_from_db()
    assert study.queue_order == Study.QueueOrder.RANDOM


def test_the_settings_page_and_the_api_refuse_it_too(make_study, client_for, personas):
    study = make_study()  # open, model assistance none
    response = client_for("alice").post(
        f"/studies/{study.slug}/settings/",
        {"title": study.title, "rubric": "cohen2020", "raters_per_case": 3, "consensus_method": "mean",
         "adjudication_range": 3, "model_assistance": "none", "crossover_gap": 5, "repeat_fraction": 0,
         "repeat_washout_days": 14, "repeat_washout_cases": 20, "queue_order": "uncertainty"},
    )  # fmt: skip
    assert response.status_code == 400 and BLINDED in html.unescape(response.content.decode())
    response = api_client(personas["alice"]).patch(f"{API}/studies/{study.slug}/", {"queue_order": "disagreement"})
    assert response.status_code == 409 and BLINDED in error_of(response)["message"]
    study.refresh_from_db()
    assert study.queue_order == Study.QueueOrder.RANDOM


def test_the_command_line_refuses_it(personas):
    with pytest.raises(CommandError, match=BLINDED):
        call_command(
            "create_study", "blind", "--rubric", "cohen2020", "--owner", "alice", "--queue-order", "uncertainty"
        )
    assert not Study.objects.filter(slug="blind").exists()
    call_command(
        "create_study", "pre", "--rubric", "cohen2020", "--owner", "alice",
        "--model-assistance", "prelabel", "--queue-order", "uncertainty",
    )  # fmt: skip
    study = Study.objects.get(slug="pre")
    assert (study.model_assistance, study.queue_order) == ("prelabel", "uncertainty")


def test_a_draft_made_blinded_again_drops_the_order_or_refuses_to_keep_it(make_study):
    study = make_study(open_it=False)
    design(study, model_assistance="shown", queue_order="uncertainty")
    with pytest.raises(StudyStateError, match=BLINDED):  # asked for both at once
        design(study, model_assistance="crossover", queue_order="uncertainty")
    design(study, model_assistance="none")  # the order not named: back to random, audited
    study.refresh_from_db()
    assert (study.model_assistance, study.queue_order) == ("none", "random")
    event = study.audit_events.filter(action="settings_change").order_by("-pk").first()
    assert event.details["after"]["queue_order"] == "random"


@pytest.mark.parametrize("mode", ["none", "crossover"])
def test_the_reordering_service_leaves_a_blinded_studys_queues_alone(make_study, mode):
    study = make_study(open_it=False)
    design(study, model_assistance=mode)
    study_open(study=study)
    before = dict(Assignment.objects.filter(study=study).values_list("pk", "order_key"))
    priority = {case_id: float(case_id) for case_id in study.cases.values_list("pk", flat=True)}
    assert rater_queues_prioritise(study=study, priority=priority) == 0
    assert dict(Assignment.objects.filter(study=study).values_list("pk", "order_key")) == before
