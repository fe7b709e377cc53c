"""Ratings and flags: a rater's scores for an assignment, append-only, one revision per save."""

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models, transaction
from django.db.models import F, IntegerField, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotation.audit import Action, audit_record, audit_scores
from annotation.models import Assignment, AuditEvent, Rating, Study, StudyMembership
from annotation.rubrics import RubricValueError, rubric_clean_values, rubric_get, rubric_totals
from annotation.services.queues import rater_queue_count_done
from annotation.services.studies import StudyStateError
from core.bulk import bulk_insert
from core.errors import IdempotencyConflict
from core.prepared import PreparedRead, PreparedUpdate, row_insert, row_update

# A reading time at or above a day is a clock or client error, not a read.
READING_TIME_MAX_S = 24 * 3600
READING_TIME_ERROR = "reading time must be between 0 and 24 hours"
# An idempotency key: printable ASCII without spaces, what a client can put in a header and no
# database refuses. The reading page sends URL-safe tokens, which are a subset.
CLIENT_KEY = re.compile(r"[\x21-\x7e]{1,64}")
CLIENT_KEY_ERROR = "up to 64 printable ASCII characters, no spaces"
UNAIDED_SHOWS_NO_MODEL = "no model output is shown in an unaided read"
# An unread case withdrawn while the rater had it open (annotation/services/repairs.py).
NO_LONGER_YOURS = "this case is no longer yours to read: the study's owner gave it to another rater"
# Rows per bulk insert (Django splits it further on SQLite, which it takes to bind at most 999
# parameters a statement) and ids per IN (...), within that bound.
BULK_BATCH = 1000
IDS_PER_QUERY = 500
# What a save or a flag changes on the assignment.
CHANGED_BY_A_READ = ("current_rating", "flag_reason", "flag_note", "flagged_at", "completed_at")


def reading_time_valid(value: float) -> bool:
    return math.isfinite(value) and 0 <= value < READING_TIME_MAX_S


def client_key_valid(key: str) -> bool:
    return bool(CLIENT_KEY.fullmatch(key))


def _ensure_writable(study: Study, *, source: str) -> None:
    if study.is_locked:
        raise StudyStateError("the study is locked: ratings can no longer change")
    # Imports of a past reader study may fill a draft; raters rate only an open study.
    if source != Rating.Source.IMPORT and study.status != Study.Status.OPEN:
        raise StudyStateError("the study is not open for rating")


def rating_submit(**kwargs) -> Rating:
    """Store a new revision of the rater's scores (see `rating_store`); returns the rating."""
    rating, _ = rating_store(**kwargs)
    return rating


@transaction.atomic
def rating_store(
    *,
    assignment: Assignment,
    values: dict[str, object],
    reading_time_s: float | None = None,
    source: str = Rating.Source.WEB,
    rated_at: datetime | None = None,
    client_key: str = "",
    model_version_shown: models.Model | None = None,
    prelabel_values: dict[str, int | None] | None = None,
) -> tuple[Rating, bool]:
    """Store a new revision of the rater's scores; earlier revisions are kept, the latest is current.
    Returns the rating and whether it was stored now (False: a retry, see `client_key`).

    For an aided read, `model_version_shown` is the model version whose pre-score the reading room
    showed (checked there against what it serves); it is stored with the rating and refused for an
    unaided read. In a pre-labelling study (`prelabel`) an aided read also stores `prelabel_values`,
    the item values the form started from (the model's pre-score spread over the items, served with
    that version), so that what the rater changed is on record; refused for any other read.

    A `client_key` makes the call idempotent: when the assignment already has a revision stored with
    that key for the same request (values, model version shown, and the reading time unless from the
    reading page), it is returned and nothing is written (a client retrying after a lost response).
    One key, one revision: the key sent with anything else raises IdempotencyConflict.

    Raises RubricValueError for an incomplete or out-of-range set of values, StudyStateError when the
    study does not accept ratings.
    """
    locked = _assignment_locked(assignment)
    if locked is None:  # withdrawn while the rater had it open (annotation/services/repairs.py)
        raise StudyStateError(NO_LONGER_YOURS)
    rubric = rubric_get(locked.study.rubric)
    cleaned = rubric_clean_values(rubric, values)
    if reading_time_s is not None and not reading_time_valid(reading_time_s):
        raise RubricValueError(READING_TIME_ERROR)
    # Checked under the row lock, so that of concurrent retries one writes and the others find its
    # revision; the unique constraint on (assignment, client_key) is the backstop.
    last, replayed = _last_revision_and_replay(locked, client_key=client_key)
    if replayed:
        _same_submission(
            replayed, values=cleaned, reading_time_s=reading_time_s, shown=model_version_shown, source=source
        )
        return replayed, False
    _ensure_writable(locked.study, source=source)
    if model_version_shown is not None and not locked.aided:
        raise RubricValueError(UNAIDED_SHOWS_NO_MODEL)
    if model_version_shown is not None and model_version_shown.study_id != locked.study_id:
        raise RubricValueError("the model version shown is not one of this study's")
    if prelabel_values is not None:
        _prelabel_check(locked, prelabel_values, rubric=rubric, shown=model_version_shown)
    previous, was_flagged = locked.current_rating, locked.flag_reason  # for the audit's before/after
    now = timezone.now()
    rating = Rating(
        assignment=locked,
        revision=last + 1,
        values=cleaned,
        totals=rubric_totals(rubric, cleaned),
        reading_time_s=reading_time_s,
        source=source,
        created_at=rated_at or now,
        client_key=client_key,
        model_version_shown=model_version_shown,
        prelabel_values=prelabel_values,
    )
    row_insert(rating)  # the rows every save writes, with statements built once (core.prepared)
    if locked.completed_at is None:
        rater_queue_count_done(assignment=locked)
        repeats_washout_start(study=locked.study, first_reads=[locked], now=now)
    locked.current_rating = rating
    locked.flag_reason, locked.flag_note, locked.flagged_at = "", "", None
    locked.completed_at = locked.completed_at or now
    row_update(locked, fields=CHANGED_BY_A_READ)
    # The actor is the rater whose scores these are, also for an owner's CSV import of them.
    audit_record(
        study=locked.study_id,
        actor=locked.rater_id,
        action=Action.RATING_REVISION,
        target=locked.case.public_id,
        details=_revision_details(rating, previous=previous, was_flagged=was_flagged, assignment=locked),
    )
    _study_changed_while_writable(locked.study, source=source)
    _copy_read_fields(locked, into=assignment)
    return rating, True


def _last_revision_and_replay(locked: Assignment, *, client_key: str) -> tuple[int, Rating | None]:
    """The assignment's highest revision (0: none yet) and the revision stored with `client_key`
    (None: none, or no key), in one statement; the replayed row is read only when there is one."""
    if client_key:
        row = _LAST_AND_REPLAYED.first(pk=locked.pk, key=client_key) or {}
    else:
        row = _LAST.first(pk=locked.pk) or {}
    replayed = Rating.objects.get(pk=row["replayed"]) if row.get("replayed") else None
    return row.get("last") or 0, replayed


def _revisions(pk: int):
    # One row per assignment: none while it has no rating yet.
    return Rating.objects.filter(assignment_id=pk).order_by().values("assignment_id")


# Every save makes one of these reads: their SQL is written once a process (core.prepared).
_LAST = PreparedRead(lambda shape, *, pk: _revisions(pk).annotate(last=Max("revision")), values=("pk",))
_LAST_AND_REPLAYED = PreparedRead(
    lambda shape, *, pk, key: _revisions(pk).annotate(
        last=Max("revision"), replayed=Max("pk", filter=Q(client_key=key))
    ),
    values=("pk",),
    texts=("key",),
)


def repeats_washout_start(*, study: Study, first_reads: list[Assignment], now: datetime) -> None:
    """First reads done: the washout of their repeat reads starts now. The reading selectors serve
    a repeat read once `available_at` has passed and the rater has done `available_after_done`
    reads (reading/selectors.py). A repeat read already under way keeps its washout."""
    firsts = [a for a in first_reads if not a.repeat]
    if not study.repeat_fraction or not firsts:
        return
    done = StudyMembership.objects.filter(study_id=study.pk, user_id=OuterRef("rater_id")).values("queue_done")[:1]
    for start in range(0, len(firsts), IDS_PER_QUERY // 2):
        which = Q(pk__in=[])
        for a in firsts[start : start + IDS_PER_QUERY // 2]:
            which |= Q(rater_id=a.rater_id, case_id=a.case_id)
        Assignment.objects.filter(which, study_id=study.pk, repeat=True, available_at__isnull=True).update(
            available_at=now + timedelta(days=study.repeat_washout_days),
            available_after_done=Coalesce(Subquery(done, output_field=IntegerField()), Value(0))
            + study.repeat_washout_cases,
        )


PRELABEL_ONLY = "starting values are stored only for an aided read of a pre-labelling study, with the version shown"


def _prelabel_check(locked: Assignment, prelabel_values: dict, *, rubric, shown: models.Model | None) -> None:
    is_prelabel = locked.study.model_assistance == Study.ModelAssistance.PRELABEL
    if not (is_prelabel and locked.aided and shown is not None):
        raise RubricValueError(PRELABEL_ONLY)
    rubric_clean_values(rubric, prelabel_values)  # a complete set, as the rater's own


def _assignment_locked(assignment: Assignment) -> Assignment | None:
    """The assignment under its row lock, with its study, case and current rating. Only its own row:
    a FOR UPDATE over the join locked the study's row too, so that every save of every rater waited
    for the one before (bench/load_ratings.py). Whether the study still accepts the write is settled
    at the end instead (`_study_changed_while_writable`)."""
    return _LOCKED.first(pk=assignment.pk)


# Every save and flag makes this read: its SQL is written once a process (core.prepared).
_LOCKED = PreparedRead(
    lambda shape, *, pk: (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("study", "case", "current_rating")
        .filter(pk=pk)
    ),
    values=("pk",),
)


def _study_changed_while_writable(study: Study, *, source: str) -> None:
    """A new version of the study's ratings (a cached report is then out of date), written last, so
    that the study's row is locked only from here to the commit, and only while the study still
    accepts the write: when a lock (or close) of the study committed since `_ensure_writable` read
    it, nothing is updated and the whole save is undone with the reason."""
    if not _NEW_RATINGS_VERSION.run(source == Rating.Source.IMPORT, pk=study.pk):
        study.refresh_from_db(fields=["status"])
        _ensure_writable(study, source=source)
        raise StudyStateError("the study no longer accepts ratings")


def _new_ratings_version(imported: bool, *, pk: int) -> tuple:
    accepts = ~Q(status=Study.Status.LOCKED) if imported else Q(status=Study.Status.OPEN)
    return Study.objects.filter(accepts, pk=pk), {"ratings_version": F("ratings_version") + 1}


# Every save makes this update: its SQL is written once a process (core.prepared).
_NEW_RATINGS_VERSION = PreparedUpdate(_new_ratings_version, values=("pk",))


def _copy_read_fields(locked: Assignment, *, into: Assignment) -> None:
    # The caller's object as saved, without reading the row again.
    for name in (*CHANGED_BY_A_READ, "current_rating_id"):
        setattr(into, name, getattr(locked, name))


@dataclass(frozen=True)
class ImportedRead:
    """One imported set of scores for an assignment, as `ratings_bulk_store` takes it."""

    assignment: Assignment
    values: dict[str, object]
    reading_time_s: float | None = None
    rated_at: datetime | None = None


@transaction.atomic
def ratings_bulk_store(*, study: Study, reads: list[ImportedRead]) -> int:
    """Store imported reads as `rating_store` would one by one (source IMPORT), in a few bulk
    statements: a revision after the assignment's last, current on it, flags cleared, one
    RATING_REVISION event each. Reads of one assignment become successive revisions in list order.

    The caller passes the assignments locked (select_for_update) with `case` and `current_rating`
    loaded, one object per assignment. All or nothing: raises RubricValueError for a bad read before
    writing, StudyStateError for a locked study.
    """
    _ensure_writable(study, source=Rating.Source.IMPORT)
    rubric = rubric_get(study.rubric)
    cleaned = [_imported_values(rubric, read) for read in reads]
    last = _last_revisions(assignment_ids={read.assignment.pk for read in reads})
    now = timezone.now()
    ratings, events, touched = [], [], {}
    for read, values in zip(reads, cleaned, strict=True):
        assignment = read.assignment
        last[assignment.pk] = last.get(assignment.pk, 0) + 1
        rating = Rating(
            assignment_id=assignment.pk,
            revision=last[assignment.pk],
            values=values,
            totals=rubric_totals(rubric, values),
            reading_time_s=read.reading_time_s,
            source=Rating.Source.IMPORT,
            created_at=read.rated_at or now,
        )
        ratings.append(rating)
        events.append(_revision_event(rating, assignment=assignment))
        _make_current(assignment, rating, now=now)
        touched[assignment.pk] = assignment
    bulk_insert(ratings)
    _assignments_make_current(assignment_ids=sorted(touched), now=now)
    repeats_washout_start(study=study, first_reads=list(touched.values()), now=now)
    _study_changed_while_writable(study, source=Rating.Source.IMPORT)  # once: one new version of its ratings
    # The caller's object too: a later save() of it must not write the old version back, or a
    # report cached before the import would be taken for current.
    study.refresh_from_db(fields=["ratings_version"])
    bulk_insert(events)
    return len(ratings)


def _imported_values(rubric, read: ImportedRead) -> dict[str, int | None]:
    if read.reading_time_s is not None and not reading_time_valid(read.reading_time_s):
        raise RubricValueError(READING_TIME_ERROR)
    return rubric_clean_values(rubric, read.values)


def _last_revisions(*, assignment_ids: set[int]) -> dict[int, int]:
    """Each assignment's highest stored revision (absent: none yet), a query per IDS_PER_QUERY ids."""
    ids, last = sorted(assignment_ids), {}
    for start in range(0, len(ids), IDS_PER_QUERY):
        rows = (
            Rating.objects.filter(assignment_id__in=ids[start : start + IDS_PER_QUERY])
            .values("assignment_id")
            .annotate(last=Max("revision"))
            .values_list("assignment_id", "last")
        )
        last.update(rows)
    return last


def _revision_event(rating: Rating, *, assignment: Assignment) -> AuditEvent:
    # Read before _make_current: the before/after of this revision. What audit_record would write,
    # unsaved, so that the events go in one bulk insert.
    details = _revision_details(
        rating, previous=assignment.current_rating, was_flagged=assignment.flag_reason, assignment=assignment
    )
    return AuditEvent(
        study_id=assignment.study_id,
        actor_id=assignment.rater_id,
        action=Action.RATING_REVISION,
        target=str(assignment.case.public_id)[:200],
        details=details,
    )


def _assignments_make_current(*, assignment_ids: list[int], now: datetime) -> None:
    """In the database what _make_current did in memory, an UPDATE per IDS_PER_QUERY assignments.

    Not bulk_update: its CASE per row and field costs more than all the inserts together. The
    current rating is the highest revision, the one just stored under the assignment's row lock."""
    newest = Rating.objects.filter(assignment=OuterRef("pk")).order_by("-revision").values("pk")[:1]
    for start in range(0, len(assignment_ids), IDS_PER_QUERY):
        Assignment.objects.filter(pk__in=assignment_ids[start : start + IDS_PER_QUERY]).update(
            current_rating=Subquery(newest),
            flag_reason="",
            flag_note="",
            flagged_at=None,
            completed_at=Coalesce("completed_at", Value(now)),
        )


def _make_current(assignment: Assignment, rating: Rating, *, now: datetime) -> None:
    assignment.current_rating = rating
    assignment.flag_reason, assignment.flag_note, assignment.flagged_at = "", "", None
    assignment.completed_at = assignment.completed_at or now


def _revision_details(rating: Rating, *, previous: Rating | None, was_flagged: str, assignment: Assignment) -> dict:
    """What the trail keeps of a revision: the scores before (None for a first read) and after."""
    details = {"revision": rating.revision, "source": rating.source, "assignment": assignment.public_id}
    details["before"] = audit_scores(values=previous.values, totals=previous.totals) if previous else None
    details["after"] = audit_scores(values=rating.values, totals=rating.totals)
    if rating.reading_time_s is not None:
        details["reading_time_s"] = round(rating.reading_time_s, 2)
    if was_flagged:
        details["was_flagged"] = was_flagged
    return details


def _same_submission(
    stored: Rating,
    *,
    values: dict[str, int | None],
    reading_time_s: float | None,
    shown: models.Model | None,
    source: str,
) -> None:
    """A retry must be the request it repeats: anything else sent under its key would be lost silently.

    The reading time counts except from the reading page: the page measures it again at each send,
    so a form sent again after a lost answer carries a later time for the same read. An API client
    sends its body again as it was.
    """
    sent = (values, shown.pk if shown is not None else None)
    kept = (stored.values, stored.model_version_shown_id)
    if source != Rating.Source.WEB:
        sent, kept = (*sent, reading_time_s), (*kept, stored.reading_time_s)
    if sent != kept:
        raise IdempotencyConflict(
            "the idempotency key was already used with other values: the earlier submission is kept and "
            "nothing was stored; a new submission needs a new key"
        )


@transaction.atomic
def assignment_flag(*, assignment: Assignment, reason: str, note: str = "") -> Assignment:
    """Flag the case instead of scoring it. Earlier rating revisions are kept but no longer current."""
    if reason not in Assignment.FlagReason.values:
        raise RubricValueError(f"unknown flag reason {reason!r}")
    if reason == Assignment.FlagReason.OTHER and not note.strip():
        raise RubricValueError("say why the case is flagged")
    locked = _assignment_locked(assignment)
    if locked is None:
        raise StudyStateError(NO_LONGER_YOURS)
    _ensure_writable(locked.study, source=Rating.Source.WEB)
    previous = locked.current_rating  # its scores stop counting: the trail keeps them
    now = timezone.now()
    locked.flag_reason, locked.flag_note, locked.flagged_at = reason, note.strip()[:500], now
    locked.current_rating = None
    if locked.completed_at is None:
        rater_queue_count_done(assignment=locked)
        repeats_washout_start(study=locked.study, first_reads=[locked], now=now)
    locked.completed_at = locked.completed_at or now
    locked.save(update_fields=CHANGED_BY_A_READ)
    audit_record(
        study=locked.study_id,
        actor=locked.rater_id,
        action=Action.FLAG,
        target=locked.case.public_id,
        details={
            "reason": reason,
            "assignment": locked.public_id,
            "before": audit_scores(values=previous.values, totals=previous.totals) if previous else None,
        },
    )
    _study_changed_while_writable(locked.study, source=Rating.Source.WEB)
    _copy_read_fields(locked, into=assignment)
    return locked
