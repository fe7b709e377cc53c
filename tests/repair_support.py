"""Helpers for the repair tests: reading a few cases, counting what each rater has left."""

from collections import Counter

from annotation.models import Assignment, StudyMembership
from annotation.services import rating_submit

VALUES = {"extent_right": 2, "extent_left": 1, "opacity_right": 1, "opacity_left": 1}


def read_some(study, rater, n: int, values: dict | None = None) -> list[Assignment]:
    """The rater scores their first n unread cases in their own order."""
    queue = list(
        Assignment.objects.filter(study=study, rater=rater, completed_at__isnull=True).order_by("order_key")[:n]
    )
    for assignment in queue:
        rating_submit(assignment=assignment, values=values or VALUES, reading_time_s=12.0)
    return queue


def left_to_read(study) -> dict[str, int]:
    """Unread cases per active rater (0 for a rater with none)."""
    raters = study.memberships.filter(role=StudyMembership.Role.RATER).values_list("user__username", flat=True)
    counts = Counter(
        Assignment.objects.filter(study=study, completed_at__isnull=True).values_list("rater__username", flat=True)
    )
    return {name: counts.get(name, 0) for name in raters}


def raters_per_case(study) -> Counter:
    """How many distinct raters each case of the study has, as a histogram {n raters: n cases}."""
    per_case = Counter()
    for case_id, _ in set(Assignment.objects.filter(study=study).values_list("case_id", "rater_id")):
        per_case[case_id] += 1
    return Counter(per_case.values())


def assert_balanced(study) -> None:
    left = left_to_read(study)
    assert max(left.values()) - min(left.values()) <= 1, left
    # No rater holds a case twice (the unique constraint would refuse it; this says so plainly).
    pairs = list(Assignment.objects.filter(study=study, aided=False).values_list("case_id", "rater_id"))
    assert len(pairs) == len(set(pairs))
