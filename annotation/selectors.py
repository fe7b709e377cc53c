"""Reads, with blinding and permissions enforced here so that no view can forget them.

A rater only ever receives `RaterCase`s: the opaque assignment id, the position in their own queue
and their own current values. Filenames, metadata, other raters and model output are not in it.
"""

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from annotation.models import Assignment, Case, ImportJob, Study, StudyMembership
from annotation.rubrics import Rubric, rubric_get

Role = StudyMembership.Role


def membership_get(*, user, study: Study) -> StudyMembership | None:
    if not user.is_authenticated:
        return None
    return StudyMembership.objects.filter(user=user, study=study).first()


def study_get_for_member(*, user, slug: str, roles: tuple[str, ...]) -> tuple[Study, StudyMembership]:
    # 404, not 403: someone outside a study must not learn that it exists.
    if not user.is_authenticated:
        raise Http404("no such study")
    membership = (
        StudyMembership.objects.select_related("study").filter(user=user, study__slug=slug, role__in=roles).first()
    )
    if membership is None:
        raise Http404("no such study")
    return membership.study, membership


@dataclass(frozen=True)
class StudyCard:
    study: Study
    role: str
    done: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def study_cards_for_user(*, user) -> list[StudyCard]:
    """The "my studies" list: for raters their own progress, for owners and observers the study's."""
    memberships = StudyMembership.objects.filter(user=user).select_related("study").order_by("-study__created_at")
    cards = []
    for membership in memberships:
        scope = Assignment.objects.filter(study=membership.study, case__image__isnull=False)
        if membership.role == Role.RATER:
            scope = scope.filter(rater=user)
        counts = scope.aggregate(total=Count("id"), done=Count("id", filter=Q(completed_at__isnull=False)))
        cards.append(StudyCard(membership.study, membership.role, counts["done"], counts["total"]))
    return cards


# --- the rater's side ----------------------------------------------------------------------------


def _rater_queue(*, user, study_id: int) -> QuerySet[Assignment]:
    # Image-less cases (a past study imported without its images) are never shown to raters.
    return Assignment.objects.filter(rater=user, study_id=study_id, case__image__isnull=False)


@dataclass(frozen=True)
class RaterCase:
    """Everything a rater may know about one of their cases, and nothing more."""

    public_id: str
    study_slug: str
    study_title: str
    study_status: str
    rubric: Rubric
    position: int  # 1-based, in the rater's own order
    queue_length: int
    done: int
    values: dict[str, int | None] | None
    revision: int
    flag_reason: str
    flag_note: str
    previous_id: str | None
    next_id: str | None
    # Where "Save and next" leads: the first of the rater's other cases not yet done. The page
    # prefetches its image so that the next case appears at once.
    upcoming_id: str | None
    display_width: int
    display_height: int

    @property
    def read_only(self) -> bool:
        return self.study_status != Study.Status.OPEN

    @property
    def percent_done(self) -> int:
        return round(100 * self.done / self.queue_length) if self.queue_length else 0


def assignment_get_for_rater(*, user, public_id: str) -> Assignment:
    # 404, not 403: a rater must not learn that someone else's assignment exists.
    if not user.is_authenticated:
        raise Http404("no such case")
    assignment = (
        Assignment.objects.select_related("study", "case__image", "current_rating")
        .filter(public_id=public_id, rater=user, case__image__isnull=False)
        .exclude(study__status=Study.Status.DRAFT)
        .first()
    )
    if assignment is None or not StudyMembership.objects.filter(
        study_id=assignment.study_id, user=user, role=Role.RATER
    ).exists():
        raise Http404("no such case")
    return assignment


def _first_id(queue: QuerySet[Assignment], order: str) -> str | None:
    return queue.order_by(order).values_list("public_id", flat=True).first()


def rater_case_get(*, user, public_id: str) -> RaterCase:
    """One of the rater's cases with its place in their queue.

    A fixed number of queries whatever the queue length (one aggregate for the counts, one indexed
    lookup each for the neighbours), so that the page stays as fast for 100,000 cases as for 10.
    """
    assignment = assignment_get_for_rater(user=user, public_id=public_id)
    queue = _rater_queue(user=user, study_id=assignment.study_id)
    counts = queue.aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(completed_at__isnull=False)),
        before=Count("id", filter=Q(order_key__lt=assignment.order_key)),
    )
    study, rating = assignment.study, assignment.current_rating
    return RaterCase(
        public_id=assignment.public_id,
        study_slug=study.slug,
        study_title=study.title,
        study_status=study.status,
        rubric=rubric_get(study.rubric),
        position=counts["before"] + 1,
        queue_length=counts["total"],
        done=counts["done"],
        values=rating.values if rating else None,
        revision=assignment.ratings.count(),
        flag_reason=assignment.flag_reason,
        flag_note=assignment.flag_note,
        previous_id=_first_id(queue.filter(order_key__lt=assignment.order_key), "-order_key"),
        next_id=_first_id(queue.filter(order_key__gt=assignment.order_key), "order_key"),
        upcoming_id=_first_id(queue.filter(completed_at__isnull=True).exclude(pk=assignment.pk), "order_key"),
        display_width=assignment.case.image.display_width,
        display_height=assignment.case.image.display_height,
    )


def assignment_next_for_rater(*, user, study: Study) -> str | None:
    """The first case in the rater's own order that they have neither scored nor flagged."""
    return (
        _rater_queue(user=user, study_id=study.pk)
        .filter(completed_at__isnull=True)
        .order_by("order_key")
        .values_list("public_id", flat=True)
        .first()
    )


def rater_first_case(*, user, study: Study) -> str | None:
    return _first_id(_rater_queue(user=user, study_id=study.pk), "order_key")


@dataclass(frozen=True)
class RaterQueueSummary:
    total: int
    done: int
    flagged: int
    first_id: str | None

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def rater_queue_summary(*, user, study: Study) -> RaterQueueSummary:
    """The rater's own counts for the done page: how many, never anyone else's."""
    queue = _rater_queue(user=user, study_id=study.pk)
    counts = queue.aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(completed_at__isnull=False)),
        flagged=Count("id", filter=~Q(flag_reason="")),
    )
    return RaterQueueSummary(counts["total"], counts["done"], counts["flagged"], _first_id(queue, "order_key"))


def rater_display_image_path(*, user, public_id: str) -> str:
    return assignment_get_for_rater(user=user, public_id=public_id).case.image.display.name


# --- the owner's side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RaterProgress:
    username: str
    assigned: int
    scored: int
    flagged: int

    @property
    def done(self) -> int:
        return self.scored + self.flagged

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.assigned) if self.assigned else 0


def study_rater_progress(*, study: Study) -> list[RaterProgress]:
    """Per-rater counts for owners and observers: how much, never which scores."""
    raters = study.memberships.filter(role=Role.RATER).select_related("user").order_by("user__username")
    counts = {
        row["rater_id"]: row
        for row in study.assignments.filter(case__image__isnull=False)
        .values("rater_id")
        .annotate(
            assigned=Count("id"),
            scored=Count("id", filter=Q(current_rating__isnull=False)),
            flagged=Count("id", filter=~Q(flag_reason="")),
        )
    }
    return [
        RaterProgress(
            m.user.username,
            counts.get(m.user_id, {}).get("assigned", 0),
            counts.get(m.user_id, {}).get("scored", 0),
            counts.get(m.user_id, {}).get("flagged", 0),
        )
        for m in raters
    ]


def study_cases_for_owner(*, study: Study) -> QuerySet[Case]:
    return study.cases.select_related("image").annotate(
        n_assigned=Count("assignments", distinct=True),
        n_done=Count("assignments", filter=Q(assignments__completed_at__isnull=False), distinct=True),
    )


def study_flagged_assignments(*, study: Study) -> QuerySet[Assignment]:
    return study.assignments.exclude(flag_reason="").select_related("case", "rater").order_by("-flagged_at")


def case_get_for_owner(*, user, slug: str, public_id: str) -> Case:
    study, _ = study_get_for_member(user=user, slug=slug, roles=(Role.OWNER,))
    case = study.cases.select_related("image").filter(public_id=public_id, image__isnull=False).first()
    if case is None:
        raise Http404("no such case")
    return case


def import_jobs_for_study(*, study: Study) -> QuerySet[ImportJob]:
    return study.import_jobs.all()[:10]


def study_completed_assignments(*, study: Study) -> QuerySet[Assignment]:
    """Assignments with their current rating or flag (owners, exports and statistics; never raters)."""
    return (
        study.assignments.filter(completed_at__isnull=False)
        .select_related("case", "rater", "current_rating")
        .annotate(n_revisions=Count("ratings"))
        .order_by("case__original_filename", "rater__username")
    )
