"""Reads, with blinding and permissions enforced here so that no view can forget them.

A rater only ever receives `RaterCase`s: the opaque assignment id, the position in their own queue
and their own current values. Filenames, metadata, other raters and model output are not in it.
"""

from dataclasses import dataclass

from django.db.models import Case as CaseWhen
from django.db.models import Count, F, Max, Min, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404
from rest_framework.authtoken.models import Token

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


def _count(scope: QuerySet[Assignment]) -> Coalesce:
    # A correlated COUNT(*) for annotating another queryset (0 rather than NULL when none match).
    return Coalesce(Subquery(scope.order_by().values("study").annotate(n=Count("id")).values("n")), 0)


def study_memberships_for_user(*, user) -> QuerySet[StudyMembership]:
    """The user's studies as memberships, with `n_done` and `n_total` as on the "my studies" page:
    a rater's own assignments, the whole study's for owners and observers."""
    study_scope = Assignment.objects.filter(study=OuterRef("study"), case__image__isnull=False)
    own_scope = study_scope.filter(rater=OuterRef("user"))
    done = Q(completed_at__isnull=False)
    is_rater = Q(role=Role.RATER)
    return (
        StudyMembership.objects.filter(user=user)
        .select_related("study")
        .annotate(
            n_total=CaseWhen(When(is_rater, then=_count(own_scope)), default=_count(study_scope)),
            n_done=CaseWhen(When(is_rater, then=_count(own_scope.filter(done))), default=_count(study_scope.filter(done))),
        )
        .order_by("-study__created_at")
    )


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
    # Only for an aided read in a model-assisted study: the active model's pre-score and version.
    aided: bool = False
    model_hint: dict[str, float] | None = None
    model_version_number: int | None = None

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


def _rater_visible_queue(*, user, study_id: int) -> QuerySet[Assignment]:
    """The same rows as `_rater_queue`, filtered without joining the case table.

    Image-less cases are rare (a past study imported without its images). They are looked up from
    the case side (its image index) and excluded by id, so that counting and ordering the queue read
    the (study, rater, completed_at, order_key) index alone. A join per row made the reading page
    grow with the queue: ~40 ms for the counts alone at 20,000 cases.
    """
    hidden = Case.objects.filter(study_id=study_id, image__isnull=True).values("pk")
    # No study filter here: with one, SQLite (before ANALYZE) walks the whole queue instead of the
    # (case, rater) index; the cases already belong to the study.
    hidden_ids = list(Assignment.objects.filter(rater=user, case_id__in=hidden).values_list("pk", flat=True))
    return Assignment.objects.filter(rater=user, study_id=study_id).exclude(pk__in=hidden_ids)


def rater_case_get(*, user, public_id: str) -> RaterCase:
    """One of the rater's cases with its place in their queue.

    A fixed number of queries whatever the queue length: one aggregate over the queue's index gives
    the counts and the order keys of the neighbours, one more query their ids.
    """
    assignment = assignment_get_for_rater(user=user, public_id=public_id)
    queue = _rater_visible_queue(user=user, study_id=assignment.study_id)
    key = assignment.order_key
    counts = queue.aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(completed_at__isnull=False)),
        before=Count("id", filter=Q(order_key__lt=key)),
        previous_key=Max("order_key", filter=Q(order_key__lt=key)),
        next_key=Min("order_key", filter=Q(order_key__gt=key)),
    )
    neighbours = dict(
        queue.filter(order_key__in=[k for k in (counts["previous_key"], counts["next_key"]) if k is not None])
        .values_list("order_key", "public_id")
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
        previous_id=neighbours.get(counts["previous_key"]),
        next_id=neighbours.get(counts["next_key"]),
        upcoming_id=_first_id(queue.filter(completed_at__isnull=True).exclude(pk=assignment.pk), "order_key"),
        display_width=assignment.case.image.display_width,
        display_height=assignment.case.image.display_height,
        **_model_hint(assignment),
    )


def _model_hint(assignment: Assignment) -> dict:
    """The active model's pre-score, for an aided read only. Blinding: an unaided read (every read
    of a `none` study) never loads a prediction, so no page or response can carry one."""
    if not assignment.aided:
        return {}
    from scoring.models import Prediction

    prediction = (
        Prediction.objects.filter(case_id=assignment.case_id, model_version__study_id=assignment.study_id, model_version__is_active=True)
        .select_related("model_version")
        .first()
    )
    if prediction is None:
        return {"aided": True}
    return {"aided": True, "model_hint": prediction.values, "model_version_number": prediction.model_version.number}


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
    queue = _rater_visible_queue(user=user, study_id=study.pk)
    counts = queue.aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(completed_at__isnull=False)),
        flagged=Count("id", filter=~Q(flag_reason="")),
        first_key=Min("order_key"),
    )
    first_id = queue.filter(order_key=counts["first_key"]).values_list("public_id", flat=True).first()
    return RaterQueueSummary(counts["total"], counts["done"], counts["flagged"], first_id)


def rater_display_image_path(*, user, public_id: str) -> str:
    return assignment_get_for_rater(user=user, public_id=public_id).case.image.display.name


# What a rater may read about each of their own assignments, and nothing more: rows are plain dicts
# with these keys, so a caller cannot reach the case, its filename or anyone else's rating.
RATER_QUEUE_FIELDS = ("public_id", "position", "state", "values", "totals", "revision", "flag_reason", "flag_note",
                      "completed_at")


def rater_queue_rows(*, user, study: Study) -> QuerySet:
    """The rater's own queue in their own order (the API's "mine"); empty while the study is a draft,
    as the reading pages are."""
    queue = _rater_queue(user=user, study_id=study.pk).exclude(study__status=Study.Status.DRAFT)
    before = _rater_queue(user=user, study_id=study.pk).filter(order_key__lt=OuterRef("order_key"))
    state = CaseWhen(
        When(~Q(flag_reason=""), then=Value("flagged")),
        When(current_rating__isnull=False, then=Value("scored")),
        default=Value("todo"),
    )
    return (
        queue.annotate(
            position=_count(before) + 1,
            state=state,
            values=F("current_rating__values"),
            totals=F("current_rating__totals"),
            revision=F("current_rating__revision"),
        )
        .order_by("order_key")
        .values(*RATER_QUEUE_FIELDS)
    )


def rater_ratings_rows(*, user, public_id: str) -> QuerySet:
    """Every revision of the rater's own scores for one of their assignments, as plain dicts."""
    assignment = assignment_get_for_rater(user=user, public_id=public_id)
    return assignment.ratings.order_by("revision").values(
        "revision", "values", "totals", "reading_time_s", "source", "created_at"
    )


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


def study_main_reads_aided(study: Study) -> bool:
    """Which reads a study's consensus, agreement and score exports are about: the aided ones in a
    `shown` study, else the unaided ones (a crossover study's aided reads are compared separately)."""
    return study.model_assistance == Study.ModelAssistance.SHOWN


def study_completed_assignments(*, study: Study) -> QuerySet[Assignment]:
    """Assignments with their current rating or flag (owners, exports and statistics; never raters)."""
    return (
        study.assignments.filter(completed_at__isnull=False)
        .select_related("case", "rater", "current_rating__model_version_shown")
        .annotate(n_revisions=Count("ratings"))
        .order_by("case__original_filename", "rater__username")
    )


def api_token_for_user(*, user) -> Token | None:
    return Token.objects.filter(user=user).first()
