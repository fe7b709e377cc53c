"""A rater's reading tool over the API: own queue in own order, revisions, flags, idempotent retries."""

import pytest
from django.db import IntegrityError, transaction

from annotation.models import Assignment, Rating
from annotation.services import rating_submit, study_lock
from tests.api_support import API, api_client, error_of
from tests.conftest import COHEN_VALUES


@pytest.fixture
def study(make_study):
    return make_study(n_cases=3)


@pytest.fixture
def rater(personas):
    return api_client(personas["rater1"])


def _own(study, user) -> list[str]:
    return list(
        Assignment.objects.filter(study=study, rater=user).order_by("order_key").values_list("public_id", flat=True)
    )


def test_next_walks_the_raters_own_order_then_says_nothing_left(study, rater, personas):
    own = _own(study, personas["rater1"])
    seen = []
    while (response := rater.get(f"{API}/studies/s1/queue/next/")).status_code == 200:
        case = response.json()
        assert case["position"] == len(seen) + 1 and case["queue_length"] == 3 and case["done"] == len(seen)
        seen.append(case["id"])
        assert (
            rater.post(f"{API}/assignments/{case['id']}/ratings/", {"values": COHEN_VALUES}, format="json").status_code
            == 201
        )
    assert response.status_code == 204 and seen == own


def test_mine_lists_own_cases_with_position_state_and_own_values(study, rater, personas):
    own = _own(study, personas["rater1"])
    rater.post(f"{API}/assignments/{own[1]}/ratings/", {"values": COHEN_VALUES, "reading_time_s": 12.5}, format="json")
    rater.post(f"{API}/assignments/{own[2]}/flag/", {"reason": "wrong_view"}, format="json")
    rows = rater.get(f"{API}/studies/s1/queue/mine/").json()["results"]
    assert [(r["id"], r["position"], r["state"]) for r in rows] == [
        (own[0], 1, "todo"),
        (own[1], 2, "scored"),
        (own[2], 3, "flagged"),
    ]
    assert (
        rows[1]["values"] == COHEN_VALUES
        and rows[1]["totals"] == {"geographic_extent": 5, "opacity": 3}
        and rows[1]["revision"] == 1
    )
    todo = rater.get(f"{API}/studies/s1/queue/mine/?state=todo").json()["results"]
    assert [(r["id"], r["position"]) for r in todo] == [(own[0], 1)]  # the position in the whole queue
    assert [r["id"] for r in rater.get(f"{API}/studies/s1/queue/mine/?ordering=-position").json()["results"]] == own[
        ::-1
    ]


def test_each_submission_is_a_new_revision_and_the_list_shows_only_own(study, rater, personas):
    own = _own(study, personas["rater1"])[0]
    rater.post(f"{API}/assignments/{own}/ratings/", {"values": COHEN_VALUES}, format="json")
    second = rater.post(
        f"{API}/assignments/{own}/ratings/", {"values": {**COHEN_VALUES, "extent_left": 0}}, format="json"
    ).json()
    assert second["revision"] == 2 and second["source"] == "api" and second["totals"]["geographic_extent"] == 2
    revisions = rater.get(f"{API}/assignments/{own}/ratings/").json()["results"]
    assert [r["revision"] for r in revisions] == [1, 2]
    assert rater.get(f"{API}/assignments/{own}/").json()["values"] == {**COHEN_VALUES, "extent_left": 0}


def test_the_same_idempotency_key_twice_stores_one_revision(study, rater, personas):
    own = _own(study, personas["rater1"])[0]
    url = f"{API}/assignments/{own}/ratings/"
    first = rater.post(url, {"values": COHEN_VALUES}, format="json", HTTP_IDEMPOTENCY_KEY="retry-7")
    again = rater.post(url, {"values": COHEN_VALUES}, format="json", HTTP_IDEMPOTENCY_KEY="retry-7")
    assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
    assert Rating.objects.filter(assignment__public_id=own).count() == 1


def test_a_client_key_in_the_body_works_like_the_header(study, rater, personas):
    own = _own(study, personas["rater1"])
    url = f"{API}/assignments/{own[0]}/ratings/"
    assert rater.post(url, {"values": COHEN_VALUES, "client_key": "k1"}, format="json").status_code == 201
    assert (
        rater.post(
            url, {"values": COHEN_VALUES, "client_key": "k1"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
        ).status_code
        == 200
    )
    assert rater.post(url, {"values": COHEN_VALUES, "client_key": "k2"}, format="json").status_code == 201
    # Keys belong to one assignment: the same key elsewhere is a different submission.
    assert (
        rater.post(
            f"{API}/assignments/{own[1]}/ratings/", {"values": COHEN_VALUES, "client_key": "k1"}, format="json"
        ).status_code
        == 201
    )
    assert Rating.objects.filter(assignment__public_id=own[0]).count() == 2


def test_conflicting_or_malformed_keys_are_refused(study, rater, personas):
    url = f"{API}/assignments/{_own(study, personas['rater1'])[0]}/ratings/"
    mismatch = rater.post(url, {"values": COHEN_VALUES, "client_key": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="b")
    assert mismatch.status_code == 400 and "client_key" in error_of(mismatch)["fields"]
    too_long = rater.post(url, {"values": COHEN_VALUES}, format="json", HTTP_IDEMPOTENCY_KEY="x" * 65)
    assert too_long.status_code == 400 and "Idempotency-Key" in error_of(too_long)["fields"]
    assert not Rating.objects.exists()


def test_a_retry_after_the_study_was_locked_returns_the_stored_revision(study, rater, personas):
    url = f"{API}/assignments/{_own(study, personas['rater1'])[0]}/ratings/"
    rater.post(url, {"values": COHEN_VALUES}, format="json", HTTP_IDEMPOTENCY_KEY="late")
    study_lock(study=study)
    assert rater.post(url, {"values": COHEN_VALUES}, format="json", HTTP_IDEMPOTENCY_KEY="late").status_code == 200
    refused = rater.post(url, {"values": COHEN_VALUES}, format="json", HTTP_IDEMPOTENCY_KEY="new")
    assert refused.status_code == 409 and error_of(refused)["code"] == "study_state"


def test_incomplete_or_out_of_range_values_are_refused_with_the_rubrics_message(study, rater, personas):
    url = f"{API}/assignments/{_own(study, personas['rater1'])[0]}/ratings/"
    for values, words in (
        ({"extent_right": 2}, "a value is required"),
        ({**COHEN_VALUES, "extent_left": 9}, "outside 0-4"),
        ({**COHEN_VALUES, "zone_a": 1}, "unknown item"),
    ):
        response = rater.post(url, {"values": values}, format="json")
        assert response.status_code == 400 and error_of(response)["code"] == "invalid_values"
        assert words in error_of(response)["message"]
    assert error_of(rater.post(url, {"values": "high"}, format="json"))["fields"]["values"]
    assert not Rating.objects.exists()


def test_flag_other_needs_a_note_and_a_flag_replaces_the_current_score(study, rater, personas):
    own = _own(study, personas["rater1"])[0]
    refused = rater.post(f"{API}/assignments/{own}/flag/", {"reason": "other"}, format="json")
    assert refused.status_code == 400 and error_of(refused)["message"] == "say why the case is flagged"
    rater.post(f"{API}/assignments/{own}/ratings/", {"values": COHEN_VALUES}, format="json")
    flagged = rater.post(
        f"{API}/assignments/{own}/flag/", {"reason": "other", "note": "lateral view"}, format="json"
    ).json()
    assert (flagged["flag_reason"], flagged["flag_note"], flagged["values"], flagged["revision"]) == (
        "other",
        "lateral view",
        None,
        1,
    )


def test_a_draft_study_has_no_queue_for_raters(make_study, rater):
    make_study(open_it=False)
    assert rater.get(f"{API}/studies/s1/queue/next/").status_code == 204
    assert rater.get(f"{API}/studies/s1/queue/mine/").json()["count"] == 0


def test_rating_submit_with_a_used_client_key_returns_the_stored_revision(study, personas):
    assignment = Assignment.objects.filter(study=study, rater=personas["rater1"]).first()
    first = rating_submit(assignment=assignment, values=COHEN_VALUES, client_key="abc")
    again = rating_submit(assignment=assignment, values=COHEN_VALUES, client_key="abc")
    assert again.pk == first.pk and again.values == COHEN_VALUES
    # With other values the key is refused (tests/test_idempotency_one_key_one_revision.py).
    unkeyed = [rating_submit(assignment=assignment, values=COHEN_VALUES) for _ in range(2)]
    assert [r.revision for r in unkeyed] == [2, 3]  # no key: every call is a new revision


def test_the_database_refuses_a_second_rating_with_the_same_key(study, personas):
    assignment = Assignment.objects.filter(study=study, rater=personas["rater1"]).first()
    rating = rating_submit(assignment=assignment, values=COHEN_VALUES, client_key="dup")
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(
            assignment=assignment,
            revision=9,
            values=rating.values,
            totals=rating.totals,
            created_at=rating.created_at,
            client_key="dup",
        )
