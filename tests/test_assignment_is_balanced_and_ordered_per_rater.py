from collections import Counter

from annotation.models import Assignment, StudyMembership
from annotation.services import assignment_order_key, images_import, membership_add, study_assign_cases
from reading.selectors import assignment_next_for_rater
from tests.conftest import image_sources


def test_each_case_gets_exactly_raters_per_case_distinct_raters(make_study):
    study = make_study(n_cases=7)
    per_case = Counter(study.assignments.values_list("case_id", flat=True))
    assert set(per_case.values()) == {3}
    assert study.assignments.values("case_id", "rater_id").distinct().count() == 21


def test_load_is_balanced_when_the_pool_is_larger(make_user, personas, make_study):
    for name in ("rater4", "rater5"):
        make_user(name)
    study = make_study(n_cases=0, open_it=False)
    for name in ("rater4", "rater5"):
        from django.contrib.auth import get_user_model

        membership_add(study=study, user=get_user_model().objects.get(username=name), role=StudyMembership.Role.RATER)
    images_import(study=study, sources=image_sources(10))
    from annotation.services import study_open

    study_open(study=study)
    load = Counter(study.assignments.values_list("rater__username", flat=True))
    assert sum(load.values()) == 30
    assert sorted(load) == ["rater1", "rater2", "rater3", "rater4", "rater5"]
    assert max(load.values()) - min(load.values()) <= 1


def test_cases_added_after_opening_are_assigned_and_balance_holds(make_study):
    study = make_study(n_cases=3)
    images_import(study=study, sources=image_sources(2, start=50))
    assert set(Counter(study.assignments.values_list("case_id", flat=True)).values()) == {3}


def test_assigning_twice_changes_nothing(make_study):
    study = make_study(n_cases=5)
    before = set(study.assignments.values_list("case_id", "rater_id"))
    assert study_assign_cases(study=study) == 0
    assert set(study.assignments.values_list("case_id", "rater_id")) == before


def test_each_rater_has_an_own_order_reproducible_from_the_recorded_seed(make_study, personas):
    study = make_study(n_cases=12)
    orders = {}
    for name in ("rater1", "rater2", "rater3"):
        membership = study.memberships.get(user=personas[name])
        queue = list(
            study.assignments.filter(rater=personas[name]).order_by("order_key").values_list("case_id", flat=True)
        )
        recomputed = sorted(
            queue, key=lambda case_id: assignment_order_key(seed=membership.queue_seed, case_id=case_id)
        )
        assert queue == recomputed
        orders[name] = queue
    # Three raters with different seeds: the orders differ (12! orders, a clash is vanishingly rare).
    assert len({tuple(order) for order in orders.values()}) == 3
    assert len({m.queue_seed for m in study.memberships.filter(role="rater")}) == 3


def test_rater_resumes_at_the_first_case_not_done_in_own_order(make_study, personas):
    from annotation.services import rating_submit
    from tests.conftest import COHEN_VALUES

    study = make_study(n_cases=4)
    queue = list(Assignment.objects.filter(study=study, rater=personas["rater1"]).order_by("order_key"))
    rating_submit(assignment=queue[0], values=COHEN_VALUES)
    assert assignment_next_for_rater(user=personas["rater1"], study=study) == queue[1].public_id
    rating_submit(assignment=queue[2], values=COHEN_VALUES)
    assert assignment_next_for_rater(user=personas["rater1"], study=study) == queue[1].public_id


def test_a_draft_study_assigns_nothing(make_study):
    study = make_study(n_cases=3, open_it=False)
    assert study.assignments.count() == 0
