"""Removing a rater: their unread cases go to the others (balanced), they lose access, and their
finished reads stay on record but leave the analysis unless the owner keeps them."""

import pytest

from annotation.models import Assignment, AuditEvent, StudyMembership
from annotation.services import rater_remove
from core.errors import StateConflict
from scoring.selectors import study_score_table
from tests.repair_support import assert_balanced, raters_per_case, read_some


@pytest.fixture
def four_raters(make_study, make_user, personas):
    make_user("rater4")
    personas["rater4"] = (
        __import__("django.contrib.auth", fromlist=["get_user_model"]).get_user_model().objects.get(username="rater4")
    )
    return make_study(n_cases=20, raters=("rater1", "rater2", "rater3", "rater4"), raters_per_case=2)


def test_dropped_reads_leave_the_analysis_and_the_cases_get_new_raters(four_raters, personas, client_for):
    study = four_raters
    done = read_some(study, personas["rater4"], 3)
    result = rater_remove(study=study, user=personas["rater4"], keep_ratings=False, actor=personas["alice"])

    assert result.reads_done == 3 and result.withdrawn == 7 and not result.ratings_kept
    membership = StudyMembership.objects.get(study=study, user=personas["rater4"])
    assert membership.role == StudyMembership.Role.REMOVED and membership.removed_at
    # The reads are kept on record ...
    assert Assignment.objects.filter(study=study, rater=personas["rater4"]).count() == 3
    # ... out of the analysis, and each case still gets two raters who count.
    assert "rater4" not in study_score_table(study=study).raters
    counted = Assignment.objects.filter(study=study).exclude(rater=personas["rater4"])
    per_case = {}
    for case_id, rater_id in counted.values_list("case_id", "rater_id"):
        per_case.setdefault(case_id, set()).add(rater_id)
    assert {len(r) for r in per_case.values()} == {2} and len(per_case) == 20
    assert all(a.case_id in per_case for a in done)
    assert_balanced(study)
    # No access left: the study is a 404 and not on their home page.
    rater = client_for("rater4")
    assert rater.get(f"/studies/{study.slug}/read/").status_code == 404
    assert study.title not in rater.get("/").content.decode()
    event = AuditEvent.objects.get(study=study, action=AuditEvent.Action.RATER_REMOVE)
    assert event.target == "rater4" and event.details["withdrawn"] == 7


def test_kept_reads_stay_in_the_analysis(four_raters, personas):
    study = four_raters
    read_some(study, personas["rater4"], 3)
    rater_remove(study=study, user=personas["rater4"], keep_ratings=True, actor=None)
    assert "rater4" in study_score_table(study=study).raters
    assert raters_per_case(study) == {2: 20}  # the three cases read by rater4 need nobody else
    assert_balanced(study)


def test_only_raters_can_be_removed(four_raters, personas):
    with pytest.raises(StateConflict, match="not a rater"):
        rater_remove(study=four_raters, user=personas["olivia"], actor=None)
