"""A rater who joins an open study gets an equal share of the reads still to do (issue 14: a late
rater used to get 0 cases and an "All done, 0 of 0" page)."""

from annotation.models import Assignment, AuditEvent, StudyMembership
from annotation.services import membership_add
from tests.repair_support import assert_balanced, left_to_read, raters_per_case, read_some


def test_late_rater_takes_an_even_share_of_what_is_left(make_study, make_user, personas):
    study = make_study(n_cases=30, raters_per_case=2)
    read_some(study, personas["rater1"], 10)
    read_some(study, personas["rater2"], 4)
    before = dict(left_to_read(study))
    total_left = sum(before.values())
    late = make_user("rater4")

    membership_add(study=study, user=late, role=StudyMembership.Role.RATER, actor=personas["alice"])

    left = left_to_read(study)
    assert sum(left.values()) == total_left  # moved, not added or lost
    assert left["rater4"] >= total_left // 4
    assert_balanced(study)
    assert raters_per_case(study) == {2: 30}  # still two distinct raters per case
    # Nothing anyone had read moved: every finished read is still its rater's.
    assert Assignment.objects.filter(study=study, rater=late, completed_at__isnull=False).count() == 0
    assert Assignment.objects.filter(study=study, completed_at__isnull=False).count() == 14
    event = AuditEvent.objects.get(study=study, action=AuditEvent.Action.ASSIGNMENTS_MOVE)
    to_late = sum(n for pair, n in event.details["moves"].items() if pair.endswith("-> rater4"))
    assert to_late == left["rater4"]
    assert event.details["cases_moved"] == sum(event.details["moves"].values())
    assert event.actor == personas["alice"]


def test_late_rater_in_a_crossover_study_gets_both_reads_of_each_case(make_study, make_user, personas):
    from annotation.services import study_update

    study = make_study(n_cases=12, raters_per_case=2, open_it=False)
    study_update(study=study, title=study.title, rubric=study.rubric, raters_per_case=2, model_assistance="crossover")
    from annotation.services import study_open

    study_open(study=study)
    late = make_user("rater4")
    membership_add(study=study, user=late, role=StudyMembership.Role.RATER)

    reads = list(Assignment.objects.filter(study=study, rater=late).values_list("case_id", "aided"))
    cases = {case for case, _ in reads}
    assert cases and len(reads) == 2 * len(cases)
    assert {aided for _, aided in reads} == {True, False}


def test_a_balanced_study_is_left_alone(make_study, personas):
    study = make_study(n_cases=9, raters_per_case=2)
    keys = set(Assignment.objects.filter(study=study).values_list("public_id", flat=True))
    from annotation.services import study_rebalance

    assert study_rebalance(study=study) == 0
    assert set(Assignment.objects.filter(study=study).values_list("public_id", flat=True)) == keys
