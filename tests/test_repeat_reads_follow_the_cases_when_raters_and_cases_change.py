"""When a live study's raters or cases change (a rater joins or is removed, a case is added), each
rater still has a repeat read for round(fraction x their cases) of their cases, each of a case they
read first themselves, and their queue numbers count them."""

from annotation import reading_order
from annotation.models import Assignment, StudyMembership
from annotation.services import images_import, membership_add, rater_remove, study_open, study_update
from tests.conftest import image_sources


def _assert_consistent(study) -> None:
    for membership in StudyMembership.objects.filter(study=study, role=StudyMembership.Role.RATER):
        mine = Assignment.objects.filter(study=study, rater_id=membership.user_id)
        firsts = set(mine.filter(repeat=False).values_list("case_id", flat=True))
        repeats = set(mine.filter(repeat=True).values_list("case_id", flat=True))
        assert repeats <= firsts
        assert len(repeats) == reading_order.repeat_count(fraction=study.repeat_fraction, cases=len(firsts))
        assert membership.queue_total == mine.count()


def test_repeat_reads_follow_a_new_rater_a_removed_rater_and_new_cases(make_study, make_user, personas):
    study = make_study(n_cases=9, raters_per_case=2, open_it=False)
    study_update(study=study, title=study.title, rubric=study.rubric, raters_per_case=2, repeat_fraction=0.34)
    study_open(study=study)
    study.refresh_from_db()
    _assert_consistent(study)
    membership_add(study=study, user=make_user("dora"), role=StudyMembership.Role.RATER)  # rebalanced
    assert Assignment.objects.filter(study=study, rater__username="dora", repeat=True).exists()
    _assert_consistent(study)
    rater_remove(study=study, user=personas["rater2"], actor=personas["alice"])
    assert not Assignment.objects.filter(study=study, rater=personas["rater2"], completed_at__isnull=True).exists()
    _assert_consistent(study)
    images_import(study=study, sources=image_sources(3, start=9))  # given out at once in an open study
    assert study.assignments.filter(repeat=False).count() == 12 * 2
    _assert_consistent(study)
