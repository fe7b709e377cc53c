"""The rater's side of the reading room, with blinding enforced here so that no view can forget it.

A rater only ever receives `RaterCase`s and plain rows of their own: the opaque assignment id, the
position in their own queue and their own current values. Filenames, metadata, other raters and
model output are not in them; the one exception is the active model's pre-score in an aided read
of a model-assisted study (`_model_hint`), which is why this module sits above scoring.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case as CaseWhen
from django.db.models import (
    Count,
    F,
    Func,
    IntegerField,
    JSONField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from annotation.models import Assignment, Case, Rating, Study, StudyMembership
from annotation.permissions import Ability, StudyAccess, may, membership_get
from annotation.rubrics import Rubric, RubricValueError, rubric_get, rubric_prelabel_values
from annotation.selectors import count_subquery
from annotation.services.ratings import UNAIDED_SHOWS_NO_MODEL
from core.errors import StateConflict
from core.prepared import PreparedRead
from core.types import Visitor
from scoring.models import ModelVersion, Prediction
from scoring.selectors import saliency_map_name


def _rater_queue(*, user: Visitor, study_id: int) -> QuerySet[Assignment]:
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
    # A pre-labelling read: the model's pre-score spread over the items, where the form starts.
    prelabel_values: dict[str, int | None] | None = None
    # A study with repeat reads: a saved case cannot be reopened (`read_closed_once_done`).
    closed_once_done: bool = False

    @property
    def read_only(self) -> bool:
        return self.study_status != Study.Status.OPEN

    @property
    def awaits_hint(self) -> bool:
        """An aided read whose pre-score cannot be served yet (no active model version, or no
        prediction for the case): it cannot be scored until it is shown."""
        return self.aided and self.model_version_number is None

    @property
    def may_score(self) -> bool:
        return not self.read_only and not self.awaits_hint

    @property
    def percent_done(self) -> int:
        return round(100 * self.done / self.queue_length) if self.queue_length else 0


def assignment_get_for_rater(*, user: Visitor, public_id: str, writing: bool = False) -> Assignment:
    """One of the rater's reads, else a 404. `writing`: the rater is saving or flagging it now (or
    reading the answer to that), which a read closed once done (`read_closed_once_done`) still
    allows, so that a retried save finds its revision. A write reads the assignment with its study
    alone: the service reads the row again under its lock with what it needs."""
    related = ("study",) if writing else CASE_RELATIONS
    return _rater_assignment_and_membership(user=user, public_id=public_id, writing=writing, related=related)[0]


def read_closed_once_done(study: Study) -> bool:
    """In a study with repeat reads, a rater cannot reopen a read once done while the study runs: else
    they could look up their first scores of a case before reading it again. Every done read is
    closed, not only the repeated ones, so that which cases come back stays unannounced. Once the
    study is locked nothing is read again, and the reads are theirs to look at."""
    return bool(study.repeat_fraction) and study.status != Study.Status.LOCKED


# What a rater's case is read with: its study, its image (the size to draw) and the current scores.
CASE_RELATIONS = ("study", "case__image", "current_rating")


def _rater_assignment_and_membership(
    *, user: Visitor, public_id: str, writing: bool = False, related: tuple[str, ...] = CASE_RELATIONS
) -> tuple[Assignment, StudyMembership]:
    # 404, not 403: a rater must not learn that someone else's assignment exists.
    if not user.is_authenticated:
        raise Http404("no such case")
    assignment = _RATER_ASSIGNMENT.first(related, user_id=user.pk, public_id=public_id)
    membership = None if assignment is None else membership_get(user=user, study=assignment.study_id)
    if assignment is None or not may(membership, Ability.RATE) or _is_held_back(assignment):
        raise Http404("no such case")
    if not writing and assignment.completed_at is not None and read_closed_once_done(assignment.study):
        raise Http404("in this study a case cannot be reopened once saved")
    return assignment, membership


def _rater_assignment(related: tuple[str, ...], *, user_id: int, public_id: str) -> QuerySet[Assignment]:
    return (
        Assignment.objects.select_related(*related)
        .filter(public_id=public_id, rater_id=user_id, case__image__isnull=False)
        .exclude(study__status=Study.Status.DRAFT)
    )


# Every request of the rater's loop reads its assignment: the SQL is written once a process.
_RATER_ASSIGNMENT = PreparedRead(_rater_assignment, values=("user_id",), texts=("public_id",))


# Repeat reads (intra-rater reliability) are unannounced: a rater's second read of a case is held
# back, nowhere listed or reachable, until the first read is done and the washout in days has passed
# (`available_at`, set when the first read is done: annotation/services/ratings.py). Then it is
# served at its place in the rater's order, or next if its place has passed, once the rater has done
# `available_after_done` reads (the washout in cases), or when nothing else is left to read. It is
# counted in the queue's total from the start, so that the total never jumps.


def _is_held_back(assignment: Assignment) -> bool:
    return assignment.repeat and (assignment.available_at is None or assignment.available_at > timezone.now())


def _held_back() -> Q:
    return Q(repeat=True) & (Q(available_at__isnull=True) | Q(available_at__gt=timezone.now()))


def _not_due(*, user: Visitor, study_id: int) -> Q:
    # Released, but the rater has not done enough other reads since the first read.
    done = StudyMembership.objects.filter(study_id=study_id, user=user).values("queue_done")[:1]
    return Q(repeat=True, available_after_done__gt=Subquery(done))


def _first_id(queue: QuerySet[Assignment], order: str) -> str | None:
    return queue.order_by(order).values_list("public_id", flat=True).first()


def _rater_visible_queue(*, user: Visitor, study_id: int) -> QuerySet[Assignment]:
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


def rater_case_get(*, user: Visitor, public_id: str, writing: bool = False) -> RaterCase:
    """One of the rater's cases with its place in their queue, in a fixed number of queries whatever
    the queue length (`_queue_place`). `writing`: as for `assignment_get_for_rater`."""
    assignment, membership = _rater_assignment_and_membership(user=user, public_id=public_id, writing=writing)
    return _rater_case(user=user, assignment=assignment, membership=membership)


def rater_next_case(*, user: Visitor, access: StudyAccess) -> RaterCase | None:
    """The rater's next case (`assignment_next_for_rater`) with its place, or None, for the rater's
    access to the study (study_access_get with Ability.RATE). Read once, with what the case needs,
    instead of finding its id and reading it again by id with the membership (two statements and
    ~5 ms of CPU fewer in each rater's loop; bench/load_ratings.py). None while the study is a draft."""
    if not access.may(Ability.RATE):
        raise Http404("no such study")
    study = access.study
    if study.status == Study.Status.DRAFT:
        return None
    assignment = _next_pending(user=user, study=study, fields=("case__image", "current_rating"))
    if assignment is None:
        return None
    assignment.study = study  # the study already read, not read again
    return _rater_case(user=user, assignment=assignment, membership=access.membership)


def _rater_case(*, user: Visitor, assignment: Assignment, membership: StudyMembership) -> RaterCase:
    place = _queue_place(user=user, assignment=assignment, membership=membership)
    study, rating = assignment.study, assignment.current_rating
    return RaterCase(
        public_id=assignment.public_id,
        study_slug=study.slug,
        study_title=study.title,
        study_status=study.status,
        rubric=rubric_get(study.rubric),
        position=place["before"] + 1,
        queue_length=place["total"],
        done=place["done"],
        values=rating.values if rating else None,
        revision=place["revision"],
        flag_reason=assignment.flag_reason,
        flag_note=assignment.flag_note,
        previous_id=place["previous_id"],
        next_id=place["next_id"],
        upcoming_id=place["upcoming_id"],
        display_width=assignment.case.image.display_width,
        display_height=assignment.case.image.display_height,
        closed_once_done=read_closed_once_done(study),
        **_model_hint(assignment),
    )


def _queue_place(*, user: Visitor, assignment: Assignment, membership: StudyMembership) -> dict:
    """The counts and neighbours of one assignment in the rater's queue, in one query whose cost
    does not grow with the queue.

    The place and the counts are stored (annotation/services/queues.py keeps them); the neighbours
    are single seeks in the `assignment_rank` and `assignment_queue` indexes. Counted per page, as
    before, the page grew with the queue (10 ms at 10,000 cases, 42 ms at 100,000;
    bench/reading_next_case.py). A read never numbered (position None: only rows written around the
    services) is counted the old way, so that the page is right even then.

    Every request of the rater's loop asks this: its SQL is written once a process (`_PLACE`) where
    the query reads no clock and no list of ids, i.e. a numbered read of a study without repeat
    reads; the others build the same query each time.
    """
    study = assignment.study
    shape = (assignment.position is not None, bool(study.repeat_fraction), read_closed_once_done(study))
    values = {
        "user_id": user.pk,
        "study_id": assignment.study_id,
        "key": assignment.order_key,
        "pk": assignment.pk,
        "total": membership.queue_total,
        "done": membership.queue_done,
    }
    numbered, repeat, _ = shape
    if numbered and not repeat:
        place = _PLACE.first(shape, **values)
    else:
        place = _place_query(shape, **values).get()
    if numbered:
        place["before"] = assignment.position - 1
    return place


def _place_query(shape: tuple[bool, bool, bool], *, user_id, study_id, key, pk, total, done) -> QuerySet:
    numbered, repeat, closed = shape
    if numbered:  # the reads with a place are the visible ones
        queue = Assignment.objects.filter(rater_id=user_id, study_id=study_id, position__isnull=False)
    else:
        queue = _rater_visible_queue(user=user_id, study_id=study_id)
    numbers = (
        {"total": Value(total), "done": Value(done)}
        if numbered
        else {
            "total": _count(queue),
            "done": _count(queue.filter(completed_at__isnull=False)),
            "before": _count(queue.filter(order_key__lt=key)),
        }
    )
    shown = queue.exclude(_held_back()) if repeat else queue
    if closed:  # previous and next lead to reads still open
        shown = shown.filter(completed_at__isnull=True)
    pending = shown.filter(completed_at__isnull=True).exclude(pk=pk)
    if repeat:
        pending = pending.exclude(_not_due(user=user_id, study_id=study_id))
    return Assignment.objects.filter(pk=pk).values(
        **numbers,
        previous_id=_first(shown.filter(order_key__lt=key), "-order_key"),
        next_id=_first(shown.filter(order_key__gt=key), "order_key"),
        # Where "Save and next" leads: the page prefetches its image.
        upcoming_id=_first(pending, "order_key"),
        revision=_count(Rating.objects.filter(assignment=pk)),
    )


_PLACE = PreparedRead(_place_query, values=("user_id", "study_id", "key", "pk", "total", "done"))


def _count(scope: QuerySet) -> Subquery:
    # COUNT(*) as a plain function, not an aggregate: no GROUP BY, no column to read, so the
    # subquery counts index entries alone (COUNT(id) took half as long again on SQLite).
    return Subquery(scope.order_by().annotate(n=Func(template="COUNT(*)", output_field=IntegerField())).values("n"))


def _first(scope: QuerySet[Assignment], order: str) -> Subquery:
    return Subquery(scope.order_by(order).values("public_id")[:1])


def _model_hint(assignment: Assignment) -> dict:
    """The active model's pre-score, for an aided read only. Blinding: an unaided read (every read
    of a `none` study) never loads a prediction, so no page or response can carry one."""
    if not assignment.aided:
        return {}
    prediction = _served_prediction(assignment)
    if prediction is None:
        return {"aided": True}
    hint = {"aided": True, "model_hint": prediction.values, "model_version_number": prediction.model_version.number}
    if assignment.study.model_assistance != Study.ModelAssistance.PRELABEL:
        return hint
    start = _prelabel_start(assignment, prediction)
    return {"aided": True} if start is None else {**hint, "prelabel_values": start}


def _prelabel_start(assignment: Assignment, prediction: Prediction) -> dict[str, int | None] | None:
    # None when the prediction lacks one of the rubric's totals (a version fitted on other targets):
    # the read then waits, as for a missing prediction, rather than start from made-up values.
    try:
        return rubric_prelabel_values(rubric_get(assignment.study.rubric), prediction.values)
    except RubricValueError:
        return None


def prelabel_values_served(*, assignment: Assignment, version: ModelVersion | None) -> dict[str, int | None] | None:
    """The starting values of a pre-labelling read served with `version`'s pre-score (what
    `model_version_shown_check` accepted), stored with the rating so that what the rater changed is
    on record; None for every other read."""
    if version is None or not assignment.aided or assignment.study.model_assistance != Study.ModelAssistance.PRELABEL:
        return None
    prediction = Prediction.objects.filter(case_id=assignment.case_id, model_version=version).first()
    start = None if prediction is None else _prelabel_start(assignment, prediction)
    if start is None:
        raise HintNotServed(HINT_NOT_SERVED)
    return start


def _served_prediction(assignment: Assignment) -> Prediction | None:
    # What an aided read is served: the study's active model version's prediction for the case.
    return (
        Prediction.objects.filter(
            case_id=assignment.case_id, model_version__study_id=assignment.study_id, model_version__is_active=True
        )
        .select_related("model_version")
        .first()
    )


def assignment_next_for_rater(*, user: Visitor, study: Study) -> str | None:
    """The first case in the rater's own order that they have neither scored nor flagged (a repeat
    read only once it is due; when nothing else is left, one whose washout in days has passed)."""
    first = _next_pending(user=user, study=study, fields=None)
    return None if first is None else first.public_id


def _next_pending(*, user: Visitor, study: Study, fields: tuple[str, ...] | None) -> Assignment | None:
    # fields: the relations to read with it (select_related); None: its public id alone.
    if not study.repeat_fraction:  # no clock to read: the SQL written once a process
        return _NEXT_PENDING.first(fields, user_id=user.pk, study_id=study.pk)
    pending = _pending_in_order(fields, user_id=user.pk, study_id=study.pk)
    released = pending.exclude(_held_back())
    return released.exclude(_not_due(user=user, study_id=study.pk)).first() or released.first()


def _pending_in_order(fields: tuple[str, ...] | None, *, user_id: int, study_id: int) -> QuerySet[Assignment]:
    pending = _rater_queue(user=user_id, study_id=study_id).filter(completed_at__isnull=True).order_by("order_key")
    return pending.only("public_id") if fields is None else pending.select_related(*fields)


_NEXT_PENDING = PreparedRead(_pending_in_order, values=("user_id", "study_id"))


def rater_first_case(*, user: Visitor, study: Study) -> str | None:
    return _first_id(_rater_queue(user=user, study_id=study.pk).exclude(_held_back()), "order_key")


@dataclass(frozen=True)
class RaterQueueSummary:
    total: int
    done: int
    flagged: int
    first_id: str | None
    # When all that is left is held back (repeat reads in their washout, never called so): the time
    # the first of them can be read. None otherwise.
    more_from: datetime | None = None

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def rater_queue_summary(*, user: Visitor, study: Study) -> RaterQueueSummary:
    """The rater's own counts for the done page: how many, never anyone else's."""
    queue = _rater_visible_queue(user=user, study_id=study.pk)
    counts = queue.aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(completed_at__isnull=False)),
        flagged=Count("id", filter=~Q(flag_reason="")),
        first_key=Min("order_key"),
    )
    first_id = queue.filter(order_key=counts["first_key"]).values_list("public_id", flat=True).first()
    more_from = None
    if study.repeat_fraction:
        first_id = _first_id(queue.exclude(_held_back()), "order_key")
        if assignment_next_for_rater(user=user, study=study) is None:
            more_from = queue.filter(completed_at__isnull=True).aggregate(at=Min("available_at"))["at"]
    return RaterQueueSummary(counts["total"], counts["done"], counts["flagged"], first_id, more_from)


@dataclass(frozen=True)
class RaterCaseRow:
    """One line of the rater's own case list: their opaque id, place and progress, nothing else."""

    public_id: str
    position: int  # 1-based, in the rater's own order, as on the reading page
    state: str  # "todo", "scored" or "flagged"
    revision: int  # how many times the rater has saved scores for it
    # False for a done read in a study with repeat reads (`read_closed_once_done`): listed, not linked.
    may_open: bool = True

    @property
    def state_label(self) -> str:
        return {"todo": "To do", "scored": "Scored", "flagged": "Flagged"}[self.state]


def rater_case_list(*, user: Visitor, study: Study) -> list[RaterCaseRow]:
    """The rater's own cases in their own order, numbered as the reading page numbers them.

    Blinding: only the rater's own assignments, by their opaque ids; no filename, no other rater,
    no model output. In a crossover study each read is its own assignment and so its own line.
    Empty while the study is a draft, as the reading pages are. A fixed number of queries whatever
    the length.
    """
    if study.status == Study.Status.DRAFT:
        return []
    rows = (
        _rater_visible_queue(user=user, study_id=study.pk)
        .exclude(_held_back())
        .order_by("order_key")
        .values_list("public_id", "flag_reason", "current_rating__revision", "position")
    )
    closed = read_closed_once_done(study)
    return [
        RaterCaseRow(
            public_id=public_id,
            # The stored place, as the reading page shows it (a repeat read held back keeps its
            # place unlisted); counted for a read never numbered.
            position=stored or position,
            state="flagged" if flag_reason else "scored" if revision else "todo",
            revision=revision or 0,
            may_open=not (closed and (flag_reason or revision)),
        )
        for position, (public_id, flag_reason, revision, stored) in enumerate(rows, start=1)
    ]


def rater_display_image_path(*, user: Visitor, public_id: str) -> str:
    return assignment_get_for_rater(user=user, public_id=public_id).case.image.display.name


# What a rater may read about each of their own assignments, and nothing more: rows are plain dicts
# with these keys, so a caller cannot reach the case, its filename or anyone else's rating.
RATER_QUEUE_FIELDS = (
    "public_id",
    "queue_position",
    "state",
    "values",
    "totals",
    "revision",
    "flag_reason",
    "flag_note",
    "completed_at",
)


def rater_queue_rows(*, user: Visitor, study: Study) -> QuerySet:
    """The rater's own queue in their own order (the API's "mine"); empty while the study is a draft,
    as the reading pages are."""
    queue = _rater_queue(user=user, study_id=study.pk).exclude(study__status=Study.Status.DRAFT)
    queue = queue.exclude(_held_back()) if study.repeat_fraction else queue
    before = _rater_queue(user=user, study_id=study.pk).filter(order_key__lt=OuterRef("order_key"))
    state = CaseWhen(
        When(~Q(flag_reason=""), then=Value("flagged")),
        When(current_rating__isnull=False, then=Value("scored")),
        default=Value("todo"),
    )
    # A read closed once done shows no scores (`read_closed_once_done`); only done reads have any.
    closed = read_closed_once_done(study)
    scores = {
        name: Value(None, output_field=JSONField()) if closed else F(f"current_rating__{name}")
        for name in ("values", "totals")
    }
    return (
        queue.annotate(
            # The stored place; counted for a read never numbered (written around the services).
            queue_position=Coalesce(F("position"), count_subquery(before) + 1),
            state=state,
            **scores,
            revision=F("current_rating__revision"),
        )
        .order_by("order_key")
        .values(*RATER_QUEUE_FIELDS)
    )


def rater_ratings_rows(*, user: Visitor, public_id: str) -> QuerySet:
    """Every revision of the rater's own scores for one of their assignments, as plain dicts."""
    assignment = assignment_get_for_rater(user=user, public_id=public_id)
    return assignment.ratings.order_by("revision").values(
        "revision", "values", "totals", "reading_time_s", "source", "created_at"
    )


HINT_NOT_SERVED = "the model hint has not been served for this aided read; reload the case"
HINT_NOT_NAMED = "name the model version whose pre-score was shown (model_version_shown)"


class HintNotServed(StateConflict):
    """An aided read while no pre-score can be served for it (no active model version, or no
    prediction for the case yet): it cannot be scored as aided until the hint is shown."""

    code = "model_hint_not_served"


def model_version_shown_check(*, assignment: Assignment, number: int | None) -> ModelVersion | None:
    """The model version whose pre-score a submission says was shown, checked against what this
    read is served now (`_model_hint`): the page and the API send its number back with the scores.

    Unaided: no version may be named. Aided: the hint must be servable (else HintNotServed, a 409)
    and the number must be the served version's (else RubricValueError, a 400), so that a rating is
    never stored as aided with nothing shown, nor with a version the rater was not shown.
    """
    if not assignment.aided:
        if number is not None:
            raise RubricValueError(UNAIDED_SHOWS_NO_MODEL)
        return None
    served = _served_prediction(assignment)
    if served is None:
        raise HintNotServed(HINT_NOT_SERVED)
    if number is None:
        raise RubricValueError(HINT_NOT_NAMED)
    if number != served.model_version.number:
        raise RubricValueError(
            f"model version {number} is not the one served for this read "
            f"(version {served.model_version.number}); reload the case"
        )
    return served.model_version


def rater_saliency_map_path(*, user: Visitor, public_id: str, target: str) -> str:
    """The stored saliency map of the active model for an aided read of the rater's; 404 for any
    unaided read, so that a blinded rater cannot even learn whether a map exists."""
    assignment = assignment_get_for_rater(user=user, public_id=public_id)
    if not assignment.aided:
        raise Http404("no such image")
    name = saliency_map_name(case=assignment.case, target=target)
    if name is None:
        raise Http404("no saliency map")
    return name
