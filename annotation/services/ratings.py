"""Ratings and flags: a rater's scores for an assignment, append-only, one revision per save."""

import math
import re
from datetime import datetime

from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

from annotation.audit import Action, audit_record, audit_scores
from annotation.models import Assignment, Rating, Study
from annotation.rubrics import RubricValueError, rubric_clean_values, rubric_get, rubric_totals
from annotation.services.studies import StudyStateError, study_ratings_changed
from core.errors import IdempotencyConflict

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
) -> tuple[Rating, bool]:
    """Store a new revision of the rater's scores; earlier revisions are kept, the latest is current.
    Returns the rating and whether it was stored now (False: a retry, see `client_key`).

    For an aided read, `model_version_shown` is the model version whose pre-score the reading room
    showed (checked there against what it serves); it is stored with the rating and refused for an
    unaided read.

    A `client_key` makes the call idempotent: when the assignment already has a revision stored with
    that key for the same request (values, model version shown, and the reading time unless from the
    reading page), it is returned and nothing is written (a client retrying after a lost response).
    One key, one revision: the key sent with anything else raises IdempotencyConflict.

    Raises RubricValueError for an incomplete or out-of-range set of values, StudyStateError when the
    study does not accept ratings.
    """
    locked = Assignment.objects.select_for_update().select_related("study", "case").filter(pk=assignment.pk).first()
    if locked is None:  # withdrawn while the rater had it open (annotation/services/repairs.py)
        raise StudyStateError(NO_LONGER_YOURS)
    rubric = rubric_get(locked.study.rubric)
    cleaned = rubric_clean_values(rubric, values)
    if reading_time_s is not None and not reading_time_valid(reading_time_s):
        raise RubricValueError(READING_TIME_ERROR)
    # Checked under the row lock, so that of concurrent retries one writes and the others find its
    # revision; the unique constraint on (assignment, client_key) is the backstop.
    replayed = locked.ratings.filter(client_key=client_key).first() if client_key else None
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
    last = locked.ratings.aggregate(last=Max("revision"))["last"] or 0
    previous, was_flagged = locked.current_rating, locked.flag_reason  # for the audit's before/after
    now = timezone.now()
    rating = Rating.objects.create(
        assignment=locked,
        revision=last + 1,
        values=cleaned,
        totals=rubric_totals(rubric, cleaned),
        reading_time_s=reading_time_s,
        source=source,
        created_at=rated_at or now,
        client_key=client_key,
        model_version_shown=model_version_shown,
    )
    locked.current_rating = rating
    locked.flag_reason, locked.flag_note, locked.flagged_at = "", "", None
    locked.completed_at = locked.completed_at or now
    locked.save(update_fields=["current_rating", "flag_reason", "flag_note", "flagged_at", "completed_at"])
    study_ratings_changed(study_id=locked.study_id)
    # The actor is the rater whose scores these are, also for an owner's CSV import of them.
    audit_record(
        study=locked.study_id,
        actor=locked.rater_id,
        action=Action.RATING_REVISION,
        target=locked.case.public_id,
        details=_revision_details(rating, previous=previous, was_flagged=was_flagged, assignment=locked),
    )
    assignment.refresh_from_db()
    return rating, True


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
    locked = Assignment.objects.select_for_update().select_related("study", "case").filter(pk=assignment.pk).first()
    if locked is None:
        raise StudyStateError(NO_LONGER_YOURS)
    _ensure_writable(locked.study, source=Rating.Source.WEB)
    previous = locked.current_rating  # its scores stop counting: the trail keeps them
    now = timezone.now()
    locked.flag_reason, locked.flag_note, locked.flagged_at = reason, note.strip()[:500], now
    locked.current_rating = None
    locked.completed_at = locked.completed_at or now
    locked.save(update_fields=["flag_reason", "flag_note", "flagged_at", "current_rating", "completed_at"])
    study_ratings_changed(study_id=locked.study_id)
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
    assignment.refresh_from_db()
    return locked
