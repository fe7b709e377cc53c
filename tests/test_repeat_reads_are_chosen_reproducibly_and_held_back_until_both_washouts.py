"""Repeat reads (intra-rater reliability): each rater gets a seeded, reproducible choice of
round(fraction x their cases) second reads, counted in their queue from the start, and is served
one only after the first read is done and both washouts (days, other reads) have passed."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from annotation import reading_order
from annotation.models import Assignment, StudyMembership
from annotation.services import rating_submit
from reading.selectors import assignment_get_for_rater, assignment_next_for_rater, rater_queue_summary
from tests.conftest import COHEN_VALUES, open_repeat_study


def _repeat_study(make_study, *, fraction=0.25, days=14, cases=20, n_cases=8):
    return open_repeat_study(make_study, fraction=fraction, days=days, cases=cases, n_cases=n_cases)


def test_each_rater_gets_a_reproducible_choice_of_repeat_reads_counted_from_the_start(make_study, personas):
    study = _repeat_study(make_study, fraction=0.25)
    for name in ("rater1", "rater2", "rater3"):
        user = personas[name]
        membership = StudyMembership.objects.get(study=study, user=user)
        firsts = dict(study.assignments.filter(rater=user, repeat=False).values_list("case_id", "aided"))
        first_keys = dict(study.assignments.filter(rater=user, repeat=False).values_list("case_id", "order_key"))
        repeats = study.assignments.filter(rater=user, repeat=True)
        assert len(firsts) == 8 and repeats.count() == 2  # round(0.25 x 8)
        chosen = reading_order.repeat_cases(seed=membership.queue_seed, case_ids=list(firsts), fraction=0.25)
        assert set(repeats.values_list("case_id", flat=True)) == chosen
        keys = reading_order.repeat_keys(
            seed=membership.queue_seed, first_keys=first_keys, chosen=chosen, gap=study.repeat_washout_cases
        )
        for repeat in repeats:
            assert repeat.aided == firsts[repeat.case_id] and repeat.available_at is None
            assert repeat.order_key == keys[repeat.case_id] > first_keys[repeat.case_id]
        assert membership.queue_total == 10 and membership.queue_done == 0


def test_repeat_count_rounds_halves_up_and_refuses_a_bad_fraction():
    assert reading_order.repeat_count(fraction=0.5, cases=1) == 1
    assert reading_order.repeat_count(fraction=0.1, cases=14) == 1
    assert reading_order.repeat_count(fraction=0.0, cases=100) == 0
    chosen = reading_order.repeat_cases(seed=7, case_ids=list(range(1, 41)), fraction=0.1)
    assert chosen == reading_order.repeat_cases(seed=7, case_ids=list(range(40, 0, -1)), fraction=0.1)
    assert len(chosen) == 4 and chosen != reading_order.repeat_cases(seed=8, case_ids=list(range(1, 41)), fraction=0.1)
    with pytest.raises(ValueError):
        reading_order.repeat_count(fraction=1.5, cases=3)


def _read_all(study, user, served: list[Assignment]) -> None:
    while (public_id := assignment_next_for_rater(user=user, study=study)) is not None:
        assignment = assignment_get_for_rater(user=user, public_id=public_id)
        served.append(assignment)
        rating_submit(assignment=assignment, values=COHEN_VALUES)


def test_a_repeat_read_waits_for_the_days_washout_and_the_rater_hears_only_of_more_cases(make_study, personas):
    study = _repeat_study(make_study, fraction=0.25, days=14, cases=0)
    user = personas["rater1"]
    served: list[Assignment] = []
    _read_all(study, user, served)
    assert len(served) == 8 and not any(a.repeat for a in served)  # only the first reads so far
    summary = rater_queue_summary(user=user, study=study)
    held = study.assignments.filter(rater=user, repeat=True)
    assert summary.done == 8 and summary.total == 10
    assert summary.more_from == min(held.values_list("available_at", flat=True))
    page = _client(personas, "rater1").get(f"/studies/{study.slug}/done/")
    text = page.content.decode()
    assert "More cases will be available from" in text and "repeat" not in text.lower()
    for repeat in held:  # its washout is 14 days from its first read
        first = study.assignments.get(rater=user, case_id=repeat.case_id, repeat=False)
        assert repeat.available_at == first.completed_at + timedelta(days=14)

    later = timezone.now() + timedelta(days=15)
    with mock.patch("django.utils.timezone.now", return_value=later):
        _read_all(study, user, served)
        assert rater_queue_summary(user=user, study=study).more_from is None
    assert [a.repeat for a in served[8:]] == [True, True]
    assert study.assignments.filter(rater=user, completed_at__isnull=True).count() == 0


def test_a_repeat_read_waits_for_the_washout_in_cases_unless_nothing_else_is_left(make_study, personas):
    study = _repeat_study(make_study, fraction=0.5, days=0, cases=2, n_cases=8)
    user = personas["rater2"]
    served: list[Assignment] = []
    _read_all(study, user, served)
    assert len(served) == 12 and sum(a.repeat for a in served) == 4
    for index, assignment in enumerate(served):
        if not assignment.repeat:
            continue
        first = next(i for i, a in enumerate(served) if a.case_id == assignment.case_id and not a.repeat)
        reads_between = index - first - 1
        firsts_left = any(not a.repeat for a in served[index:])
        # At least two other reads between the first and the repeat read, unless the first reads
        # ran out (the washout in cases cannot hold then; the days' washout always does).
        assert reads_between >= 2 or not firsts_left, (index, first)


def test_a_repeat_read_comes_at_its_numbered_place_so_no_case_number_goes_back(make_study, personas):
    # Placed after the washout in cases when the queue is made, a repeat read is served in turn: an
    # earlier case number than the one before it would tell the rater this case is special.
    study = _repeat_study(make_study, fraction=0.25, days=0, cases=3, n_cases=24)
    user = personas["rater3"]
    served: list[Assignment] = []
    _read_all(study, user, served)
    assert len(served) == 30 and sum(a.repeat for a in served) == 6
    assert [a.position for a in served] == list(range(1, 31))


def test_a_held_back_repeat_read_cannot_be_opened_or_listed(make_study, personas):
    study = _repeat_study(make_study, fraction=0.25, days=14, cases=0)
    user = personas["rater1"]
    held = study.assignments.filter(rater=user, repeat=True).first()
    client = _client(personas, "rater1")
    assert client.get(f"/read/{held.public_id}/").status_code == 404
    assert held.public_id not in client.get(f"/studies/{study.slug}/my-cases/").content.decode()


def _client(personas, name):
    from django.test import Client

    client = Client()
    client.force_login(personas[name])
    return client
