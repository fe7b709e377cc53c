"""Two raters saving at the same moment do not queue behind each other: a save locks its own
assignment's row, not the study's, so that 20 raters are not served one at a time
(bench/load_ratings.py). Whether the study still accepts the save is settled by its last statement:
a study locked while a save was under way undoes that save, with the reason, and stores nothing."""

import threading

import pytest
from django.db import connection, transaction

from annotation.models import Assignment, AuditEvent, Rating, Study
from annotation.services import rating_submit
from annotation.services import ratings as ratings_service
from annotation.services.studies import StudyStateError
from tests.conftest import COHEN_VALUES


def _first_unread(study, rater) -> Assignment:
    return Assignment.objects.filter(study=study, rater=rater, completed_at__isnull=True).order_by("order_key").first()


@pytest.mark.django_db(transaction=True)
def test_a_save_does_not_wait_for_another_raters_save_in_progress(make_study, personas, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (DATABASE_URL=postgres://...); SQLite has one lock for all writers")
    study = make_study(n_cases=2)
    first, second = _first_unread(study, personas["rater1"]), _first_unread(study, personas["rater2"])
    in_progress, may_finish = threading.Event(), threading.Event()
    record = ratings_service.audit_record

    def held_audit_record(**kwargs):
        # rater1's save stops halfway (its rating row written, not committed) until rater2's is done.
        if kwargs.get("actor") == first.rater_id:
            in_progress.set()
            assert may_finish.wait(timeout=30)
        return record(**kwargs)

    monkeypatch.setattr(ratings_service, "audit_record", held_audit_record)
    errors = []

    def rater1_saves() -> None:
        try:
            rating_submit(assignment=first, values=COHEN_VALUES)
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=rater1_saves)
    thread.start()
    try:
        assert in_progress.wait(timeout=30)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '3s'")  # waiting for rater1 would end in an error
            rating_submit(assignment=second, values=COHEN_VALUES)
    finally:
        may_finish.set()
        thread.join(timeout=30)
    assert not errors
    assert Rating.objects.filter(assignment__in=[first, second]).count() == 2
    study.refresh_from_db()
    assert study.ratings_version >= 2  # each save a new version, none lost


@pytest.mark.django_db
def test_a_study_locked_during_a_save_undoes_the_save(make_study, personas, monkeypatch):
    study = make_study(n_cases=2)
    assignment = _first_unread(study, personas["rater1"])
    events_before, version_before = AuditEvent.objects.count(), study.ratings_version
    # The save read the study while it was open; the lock committed before the save's last statement.
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LOCKED)
    monkeypatch.setattr(ratings_service, "_ensure_writable", lambda study, *, source: None)
    with pytest.raises(StudyStateError, match="no longer accepts ratings"):
        rating_submit(assignment=assignment, values=COHEN_VALUES)
    assert not Rating.objects.filter(assignment=assignment).exists()
    assignment.refresh_from_db()
    assert assignment.completed_at is None and assignment.current_rating_id is None
    assert AuditEvent.objects.count() == events_before
    study.refresh_from_db()
    assert study.ratings_version == version_before
