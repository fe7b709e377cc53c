"""A repeat read looks like any other case to the rater: no word "repeat" on the reading page or in
the API, a public id of its own, and the first read's scores never shown or prefilled."""

from django.utils import timezone

from annotation.services import rating_submit
from tests.api_support import API, api_client
from tests.conftest import COHEN_VALUES, open_repeat_study

FIRST = {"extent_right": 4, "extent_left": 4, "opacity_right": 3, "opacity_left": 3}


def _study_with_a_due_repeat(make_study, personas):
    study = open_repeat_study(make_study, fraction=0.5, days=14, cases=0, n_cases=4)
    user = personas["rater1"]
    repeat = study.assignments.filter(rater=user, repeat=True).order_by("order_key").first()
    first = study.assignments.get(rater=user, case_id=repeat.case_id, repeat=False)
    rating_submit(assignment=first, values=FIRST)
    for other in study.assignments.filter(rater=user, repeat=False).exclude(pk=first.pk):
        rating_submit(assignment=other, values=COHEN_VALUES)
    repeat.refresh_from_db()
    assert repeat.available_at is not None  # the washout started when the first read was done
    # Time travel: the washout in days is over.
    study.assignments.filter(pk=repeat.pk).update(available_at=timezone.now() - timezone.timedelta(minutes=1))
    return study, first, repeat


def test_the_reading_page_of_a_repeat_read_says_nothing_of_it_and_starts_empty(make_study, personas, client_for):
    study, first, repeat = _study_with_a_due_repeat(make_study, personas)
    client = client_for("rater1")
    response = client.get(f"/studies/{study.slug}/read/")
    assert response.status_code == 302 and response["Location"] == f"/read/{repeat.public_id}/"
    page = client.get(response["Location"])
    text = page.content.decode()
    assert page.status_code == 200 and "repeat" not in text.lower()
    assert repeat.public_id != first.public_id  # an opaque id of its own
    assert page.context["case"].values is None and page.context["values"] == {}
    assert page.context["case"].revision == 0
    listed = client.get(f"/studies/{study.slug}/my-cases/").content.decode()
    assert "repeat" not in listed.lower() and repeat.public_id in listed


def test_the_api_serves_a_repeat_read_as_a_plain_case_without_the_first_scores(make_study, personas):
    study, first, repeat = _study_with_a_due_repeat(make_study, personas)
    client = api_client(personas["rater1"])
    case = client.get(f"{API}/studies/{study.slug}/queue/next/").json()
    assert case["id"] == repeat.public_id and case["values"] is None and case["revision"] == 0
    assert "repeat" not in str(case).lower()
    rows = client.get(f"{API}/studies/{study.slug}/queue/mine/").json()["results"]
    assert "repeat" not in str(rows).lower()
    assert next(r for r in rows if r["id"] == repeat.public_id)["values"] is None
    # The rater's own first read is listed as done, without its scores: a saved case stays closed in
    # a study with repeat reads (tests/test_repeat_read_study_closes_each_read_once_done.py).
    done = next(r for r in rows if r["id"] == first.public_id)
    assert done["state"] == "scored" and done["values"] is None and done["totals"] is None
    assert client.get(f"{API}/assignments/{repeat.public_id}/ratings/").json()["results"] == []
