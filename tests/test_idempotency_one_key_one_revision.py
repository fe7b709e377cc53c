"""One idempotency key, one revision: a retry with the same key and body is answered 200 with the
stored revision, however many arrive at once; the same key with a different body is refused (422
`idempotency_conflict`) and stores nothing."""

import threading

import pytest
from django.db import connection

from annotation.models import Assignment, Rating
from annotation.services import rating_submit
from annotation.services.ratings import IdempotencyConflict
from tests.api_support import API, api_client, error_of
from tests.conftest import COHEN_VALUES

N_THREADS = 10


def _assignment(study, user) -> Assignment:
    return Assignment.objects.filter(study=study, rater=user).order_by("order_key").first()


def _url(assignment: Assignment) -> str:
    return f"{API}/assignments/{assignment.public_id}/ratings/"


def test_a_sequential_retry_is_answered_200_with_the_same_revision(make_study, personas):
    assignment = _assignment(make_study(n_cases=2), personas["rater1"])
    client = api_client(personas["rater1"])
    body = {"values": COHEN_VALUES, "reading_time_s": 12.5}
    first = client.post(_url(assignment), body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post(_url(assignment), body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Rating.objects.filter(assignment=assignment).count() == 1


@pytest.mark.parametrize(
    "changed",
    [
        {"values": {**COHEN_VALUES, "extent_left": 0}},
        {"reading_time_s": 13.0},
        {"reading_time_s": None},
    ],
    ids=["other-score", "other-reading-time", "reading-time-left-out"],
)
def test_the_same_key_with_a_different_body_is_refused_and_stores_nothing(make_study, personas, changed):
    assignment = _assignment(make_study(n_cases=2), personas["rater1"])
    client = api_client(personas["rater1"])
    body = {"values": COHEN_VALUES, "reading_time_s": 12.5}
    assert client.post(_url(assignment), body, format="json", HTTP_IDEMPOTENCY_KEY="k1").status_code == 201
    response = client.post(_url(assignment), {**body, **changed}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "idempotency_conflict" and "k1" not in error["message"]
    assert list(Rating.objects.filter(assignment=assignment).values_list("revision", "values")) == [(1, COHEN_VALUES)]


def test_a_key_is_per_assignment(make_study, personas):
    study = make_study(n_cases=2)
    first, second = Assignment.objects.filter(study=study, rater=personas["rater1"]).order_by("order_key")[:2]
    client = api_client(personas["rater1"])
    other = {"values": {**COHEN_VALUES, "extent_left": 0}}
    assert (
        client.post(_url(first), {"values": COHEN_VALUES}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    )
    assert client.post(_url(second), other, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201


def test_the_service_refuses_a_reused_key_with_other_values(make_study, personas):
    assignment = _assignment(make_study(n_cases=2), personas["rater1"])
    rating_submit(assignment=assignment, values=COHEN_VALUES, client_key="abc")
    with pytest.raises(IdempotencyConflict):
        rating_submit(assignment=assignment, values={**COHEN_VALUES, "extent_left": 0}, client_key="abc")
    again = rating_submit(assignment=assignment, values=COHEN_VALUES, client_key="abc")
    assert again.revision == 1 and Rating.objects.filter(assignment=assignment).count() == 1


def test_the_reading_page_sent_again_is_one_revision_and_with_other_scores_is_refused(make_study, personas, client_for):
    assignment = _assignment(make_study(n_cases=2), personas["rater1"])
    client = client_for("rater1")
    form = {**COHEN_VALUES, "client_key": "form-1", "reading_time_s": "20.5"}
    assert client.post(f"/read/{assignment.public_id}/", form).status_code == 302
    # The page measures the reading time again at each send: a resend of the same form is a retry.
    assert client.post(f"/read/{assignment.public_id}/", {**form, "reading_time_s": "31.0"}).status_code == 302
    refused = client.post(f"/read/{assignment.public_id}/", {**form, "extent_left": "0"})
    assert refused.status_code == 400 and "already used with other values" in refused.content.decode()
    assert list(Rating.objects.filter(assignment=assignment).values_list("revision", "reading_time_s")) == [(1, 20.5)]


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_give_one_201_and_the_rest_200(make_study, personas):
    assignment = _assignment(make_study(n_cases=2), personas["rater1"])
    clients = [api_client(personas["rater1"]) for _ in range(N_THREADS)]  # tokens made before the race
    barrier, answers, errors = threading.Barrier(N_THREADS), [None] * N_THREADS, []

    def submit(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            response = clients[i].post(
                _url(assignment), {"values": COHEN_VALUES}, format="json", HTTP_IDEMPOTENCY_KEY="retry-1"
            )
            answers[i] = (response.status_code, response.json())
        except Exception as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(N_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * (N_THREADS - 1) + [201], answers
    assert len({body["revision"] for _, body in answers}) == 1
    assert list(Rating.objects.filter(assignment=assignment).values_list("revision", "client_key")) == [(1, "retry-1")]
