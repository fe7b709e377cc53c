"""A case's place in the rater's queue (position, length, done, neighbours, next to read) is what a
count by hand over the rater's own visible cases gives, with image-less cases left out, cases read
out of order, and the first and last case; and the rater's API costs the same queries at 50 and
500 cases."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation.models import Assignment, Case
from annotation.services.queues import rater_queues_renumber
from reading.selectors import rater_case_get
from tests.api_support import api_client
from tests.conftest import COHEN_VALUES
from tests.test_reading_room_queries_do_not_grow_with_the_study import _bulk_study, _middle_of_queue


def _by_hand(queue: list[Assignment], at: Assignment) -> dict:
    i = queue.index(at)
    todo = [a for a in queue if a.completed_at is None and a != at]
    return {
        "position": i + 1,
        "queue_length": len(queue),
        "done": sum(a.completed_at is not None for a in queue),
        "previous_id": queue[i - 1].public_id if i else None,
        "next_id": queue[i + 1].public_id if i + 1 < len(queue) else None,
        "upcoming_id": todo[0].public_id if todo else None,
    }


@pytest.mark.django_db
def test_place_in_queue_matches_a_count_by_hand(personas):
    rater = personas["rater1"]
    study = _bulk_study(slug="place", n_cases=40, owner=personas["alice"], raters=[rater])
    ordered = list(Assignment.objects.filter(study=study, rater=rater).order_by("order_key"))
    # Two cases lose their image (a past study's import): never shown, never counted.
    Case.objects.filter(pk__in=[ordered[3].case_id, ordered[30].case_id]).update(image=None)
    # A case read out of order, late in the queue.
    Assignment.objects.filter(pk=ordered[35].pk).update(completed_at=timezone.now())
    queue = [
        a
        for a in Assignment.objects.filter(study=study, rater=rater).order_by("order_key")
        if a.pk not in (ordered[3].pk, ordered[30].pk)
    ]
    # Counted from the rows (the changes above went around the services, which renumber), then
    # from the stored place and counts once the queue is numbered again: both as by hand.
    Assignment.objects.filter(study=study).update(position=None)
    for numbered in (False, True):
        if numbered:
            rater_queues_renumber(study_id=study.pk)
        for at in (queue[0], queue[5], queue[19], queue[20], queue[-1]):
            case = rater_case_get(user=rater, public_id=at.public_id)
            got = {key: getattr(case, key) for key in _by_hand(queue, at)}
            assert got == _by_hand(queue, at), (at.public_id, numbered)


def _api_queries(client, method: str, url: str, data=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url, data, format="json") if data else getattr(client, method)(url)
    assert response.status_code in (200, 201), (url, response.status_code)
    return len(captured)


@pytest.mark.django_db
def test_rater_api_makes_the_same_queries_for_50_and_500_cases(personas):
    raters = [personas["rater1"], personas["rater2"]]
    client = api_client(personas["rater1"])
    counts = {}
    for n_cases in (50, 500):
        study = _bulk_study(slug=f"api-{n_cases}", n_cases=n_cases, owner=personas["alice"], raters=raters)
        assignment = _middle_of_queue(study, personas["rater1"])
        url = f"/api/v1/assignments/{assignment.public_id}/"
        counts[n_cases] = {
            "next": _api_queries(client, "get", f"/api/v1/studies/{study.slug}/queue/next/"),
            "case": _api_queries(client, "get", url),
            "submit": _api_queries(client, "post", f"{url}ratings/", {"values": COHEN_VALUES}),
        }
    assert counts[50] == counts[500]
