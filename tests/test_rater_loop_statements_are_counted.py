"""The statements of a rater's loop, counted: the next case and a save over the API, a save on the
reading page (docs/development.md, "What a rating costs"). None grows with the study."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api_support import api_client
from tests.conftest import COHEN_VALUES
from tests.test_reading_room_queries_do_not_grow_with_the_study import _bulk_study

# Token; membership with study; next read with case, image, scores; its place in the queue.
NEXT_CASE = ["authtoken_token", "annotation_studymembership", "annotation_assignment", "annotation_assignment"]
# Token; the assignment with its study; the membership; then in one transaction: the assignment
# under its lock; the last revision and a replayed key; the rating; the done count; the assignment;
# the trail event; the study's ratings version.
API_SAVE = [
    "authtoken_token",
    "annotation_assignment",
    "annotation_studymembership",
    "annotation_assignment",
    "annotation_rating",
    "INSERT annotation_rating",
    "UPDATE annotation_studymembership",
    "UPDATE annotation_assignment",
    "INSERT annotation_auditevent",
    "UPDATE annotation_study",
]


def _statements(run) -> list[str]:
    """What each statement reads or writes first, savepoints (the test's own transaction) left out."""
    with CaptureQueriesContext(connection) as captured:
        response = run()
    assert response.status_code in (200, 201, 302), response.status_code
    named = []
    for query in captured:
        sql = query["sql"]
        if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
            continue
        verb = sql.split()[0]
        table = next(
            word.strip('"').split(".")[0].strip('"')
            for word in sql.split()
            if "annotation_" in word or "authtoken_" in word or "django_session" in word or "auth_user" in word
        )
        named.append(table if verb == "SELECT" else f"{verb} {table}")
    return named


@pytest.mark.django_db
@pytest.mark.parametrize("n_cases", [20, 400])
def test_next_case_and_save_over_the_api(personas, n_cases):
    study = _bulk_study(slug=f"loop-{n_cases}", n_cases=n_cases, owner=personas["alice"], raters=[personas["rater1"]])
    client = api_client(personas["rater1"])
    answer = {}

    def next_case():
        answer["response"] = client.get(f"/api/v1/studies/{study.slug}/queue/next/")
        return answer["response"]

    assert _statements(next_case) == NEXT_CASE
    url = f"/api/v1/assignments/{answer['response'].json()['id']}/ratings/"
    save = _statements(lambda: client.post(url, {"values": COHEN_VALUES}, format="json", HTTP_IDEMPOTENCY_KEY="k1"))
    assert save == API_SAVE
    # A retry with the same key: read, nothing written.
    retry = _statements(lambda: client.post(url, {"values": COHEN_VALUES}, format="json", HTTP_IDEMPOTENCY_KEY="k1"))
    assert not [name for name in retry if name.split()[0] in ("INSERT", "UPDATE")]


@pytest.mark.django_db
def test_save_on_the_reading_page(personas, client_for):
    study = _bulk_study(slug="loop-page", n_cases=20, owner=personas["alice"], raters=[personas["rater1"]])
    client = client_for("rater1")
    public_id = study.assignments.filter(completed_at__isnull=True).order_by("order_key")[0].public_id
    form = {**COHEN_VALUES, "client_key": "form-key-1", "reading_time_s": "12.5"}
    save = _statements(lambda: client.post(f"/read/{public_id}/", form))
    assert save == ["django_session", "auth_user", *API_SAVE[1:]]
