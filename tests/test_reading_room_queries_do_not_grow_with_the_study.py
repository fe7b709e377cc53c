"""The reading page costs the same number of SQL queries for 10 cases as for 10,000."""

import hashlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation.models import Assignment, Case, Image, Study, StudyMembership
from annotation.services import assignment_order_key, membership_add, study_create
from annotation.services.queues import rater_queues_renumber
from tests.conftest import COHEN_VALUES

# Session, user, the assignment with its study, case, image and current rating, the membership
# check, and one query for the place in the queue: the previous, next and upcoming ids and the
# revision count beside the stored place and counts (reading.selectors._queue_place).
READING_PAGE_QUERIES = 5


def _bulk_study(*, slug: str, n_cases: int, owner, raters) -> Study:
    """An open study with n_cases fake images (rows only: the page never opens the files)."""
    study = study_create(owner=owner, slug=slug, title=slug, rubric="cohen2020", raters_per_case=len(raters))
    for rater in raters:
        membership_add(study=study, user=rater, role=StudyMembership.Role.RATER)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.OPEN)
    images = Image.objects.bulk_create(
        Image(
            sha256=hashlib.sha256(f"{slug}:{i}".encode()).hexdigest(),
            original=f"originals/{slug}-{i}.png",
            display=f"display/{slug}-{i}.png",
            source_format="png",
            bit_depth=8,
            width=2048,
            height=2048,
            display_width=2048,
            display_height=2048,
        )
        for i in range(n_cases)
    )
    cases = Case.objects.bulk_create(
        Case(study=study, image=image, original_filename=f"{slug}-{i}.png") for i, image in enumerate(images)
    )
    seeds = dict(study.memberships.filter(role=StudyMembership.Role.RATER).values_list("user_id", "queue_seed"))
    Assignment.objects.bulk_create(
        (
            Assignment(
                study=study,
                case=case,
                rater=rater,
                order_key=assignment_order_key(seed=seeds[rater.pk], case_id=case.pk),
            )
            for case in cases
            for rater in raters
        ),
        batch_size=2000,
    )
    # Half of each queue is done, as in the middle of a study.
    for rater in raters:
        queue = list(
            Assignment.objects.filter(study=study, rater=rater).order_by("order_key").values_list("pk", flat=True)
        )
        Assignment.objects.filter(pk__in=queue[: n_cases // 2]).update(completed_at=timezone.now())
    rater_queues_renumber(study_id=study.pk)  # as the services do after changing queues in bulk
    study.refresh_from_db()
    return study


def _middle_of_queue(study: Study, rater) -> Assignment:
    return Assignment.objects.filter(study=study, rater=rater, completed_at__isnull=True).order_by("order_key").first()


def _queries(client, method: str, url: str, data=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url, data or {})
    assert response.status_code in (200, 302), (url, response.status_code)
    return len(captured)


@pytest.mark.django_db
def test_reading_page_makes_the_same_queries_for_10_and_10000_cases(personas, client_for):
    raters = [personas["rater1"], personas["rater2"]]
    small = _bulk_study(slug="small", n_cases=10, owner=personas["alice"], raters=raters)
    large = _bulk_study(slug="large", n_cases=10_000, owner=personas["alice"], raters=raters)
    client = client_for("rater1")
    counts = {}
    for study in (small, large):
        assignment = _middle_of_queue(study, personas["rater1"])
        response = client.get(f"/read/{assignment.public_id}/")
        assert f"Case {study.cases.count() // 2 + 1} of {study.cases.count()}" in response.content.decode()
        counts[study.slug] = {
            "page": _queries(client, "get", f"/read/{assignment.public_id}/"),
            "resume": _queries(client, "get", f"/studies/{study.slug}/read/"),
            "save": _queries(client, "post", f"/read/{assignment.public_id}/", COHEN_VALUES),
            "done": _queries(client, "get", f"/studies/{study.slug}/done/"),
        }
    assert counts["small"] == counts["large"]
    assert counts["large"]["page"] == READING_PAGE_QUERIES


@pytest.mark.django_db
def test_reading_page_query_count_is_pinned(make_study, personas, client_for, django_assert_num_queries):
    study = make_study(n_cases=3)
    assignment = Assignment.objects.filter(study=study, rater=personas["rater1"]).order_by("order_key")[1]
    client = client_for("rater1")
    with django_assert_num_queries(READING_PAGE_QUERIES):
        assert client.get(f"/read/{assignment.public_id}/").status_code == 200
