"""core.prepared.row_insert and row_update write what Model.objects.create and
save(update_fields=...) write (JSON, times, nulls, foreign keys; the primary key read back), with a
statement built once; a model whose save does more goes through save(), and a row that is gone is
an error, as with the ORM."""

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import signals
from django.test.utils import CaptureQueriesContext

from annotation.models import Assignment, AuditEvent, Rating
from core import prepared
from core.prepared import row_insert, row_update

WHEN = dt.datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
SCORED = {"extent_right": 3, "opacity_right": 1, "extent_left": 0, "opacity_left": None}


@pytest.fixture
def assignments(make_study):
    study = make_study(n_cases=2, raters=("rater1", "rater2"), raters_per_case=2)
    return list(Assignment.objects.filter(study=study).order_by("pk"))


def _rating_fields(assignment, **changes):
    fields = {
        "assignment": assignment,
        "revision": 1,
        "values": SCORED,
        "totals": {"geographic_extent": 3, "opacity": 1},
        "reading_time_s": 4.5,
        "source": Rating.Source.API,
        "created_at": WHEN,
        "client_key": "k-1",
        "prelabel_values": None,
    }
    return {**fields, **changes}


def _stored(model, pk):
    row = model.objects.filter(pk=pk).values().get()
    row.pop("id")
    return row


@pytest.mark.django_db
def test_an_insert_stores_what_create_stores(assignments):
    first, second = assignments[0], assignments[1]
    inserted = row_insert(Rating(**_rating_fields(first)))
    created = Rating.objects.create(**_rating_fields(second))
    assert inserted.pk and not inserted._state.adding and inserted._state.db == "default"
    expected = {**_stored(Rating, created.pk), "assignment_id": first.pk}
    assert _stored(Rating, inserted.pk) == expected
    assert _stored(Rating, inserted.pk)["values"]["opacity_left"] is None
    again = row_insert(Rating(**_rating_fields(first, revision=2, reading_time_s=None, client_key="")))
    assert again.pk != inserted.pk and Rating.objects.get(pk=again.pk).reading_time_s is None


@pytest.mark.django_db
def test_a_trail_event_keeps_its_default_time(assignments):
    before = dt.datetime.now(dt.UTC)
    event = row_insert(AuditEvent(study_id=assignments[0].study_id, action=AuditEvent.Action.RATING_REVISION))
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.created_at == event.created_at >= before and stored.details == {} and stored.actor_id is None


@pytest.mark.django_db
def test_an_update_writes_the_named_fields_only(assignments, personas):
    assignment = assignments[0]
    rating = row_insert(Rating(**_rating_fields(assignment)))
    stale = Assignment.objects.get(pk=assignment.pk)
    assignment.current_rating = rating
    assignment.flag_reason, assignment.flag_note, assignment.flagged_at = "", "", None
    assignment.completed_at = WHEN
    assignment.position = 999  # not named: not written
    row_update(assignment, fields=("current_rating", "flag_reason", "flag_note", "flagged_at", "completed_at"))
    stored = Assignment.objects.get(pk=assignment.pk)
    assert (stored.current_rating_id, stored.completed_at) == (rating.pk, WHEN)
    assert stored.position == stale.position != 999


@pytest.mark.django_db
def test_a_row_that_is_gone_is_an_error_and_undoes_the_transaction(assignments):
    assignment = assignments[1]
    Assignment.objects.filter(pk=assignment.pk).delete()
    assignment.flag_note = "gone"
    with pytest.raises(DatabaseError, match="did not affect any rows"), transaction.atomic():
        row_insert(AuditEvent(study_id=assignment.study_id, action=AuditEvent.Action.RATING_REVISION, target="x"))
        row_update(assignment, fields=("flag_note",))
    assert not AuditEvent.objects.filter(target="x").exists()


@pytest.mark.django_db
def test_each_statement_is_built_once(assignments, monkeypatch):
    monkeypatch.setattr(prepared, "_ROW_STATEMENTS", {})
    for number, assignment in enumerate(assignments):
        row_insert(Rating(**_rating_fields(assignment, client_key=f"k{number}")))
        row_update(assignment, fields=("flag_note",))
    assert sorted((model.__name__, fields) for model, fields, *_ in prepared._ROW_STATEMENTS) == [
        ("Assignment", ("flag_note",)),
        ("Rating", None),
    ]
    with CaptureQueriesContext(connection) as queries:
        row_insert(Rating(**_rating_fields(assignments[0], revision=2, client_key="k9")))
    (insert,) = queries.captured_queries
    assert insert["sql"].startswith('INSERT INTO "annotation_rating"') and "k9" in insert["sql"]


@pytest.mark.django_db
def test_a_model_with_save_receivers_is_saved_through_save(assignments):
    seen = []

    def receiver(sender, instance, created, **kwargs):
        seen.append((instance.pk, created))

    signals.post_save.connect(receiver, sender=AuditEvent)
    try:
        event = row_insert(AuditEvent(study_id=assignments[0].study_id, action=AuditEvent.Action.RATING_REVISION))
        event.target = "changed"
        row_update(event, fields=("target",))
    finally:
        signals.post_save.disconnect(receiver, sender=AuditEvent)
    assert seen == [(event.pk, True), (event.pk, False)]
    assert AuditEvent.objects.get(pk=event.pk).target == "changed"


@pytest.mark.django_db
def test_an_instance_with_its_own_primary_key_is_saved_through_save(assignments):
    taken = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    event = row_insert(AuditEvent(pk=taken + 1000, study_id=assignments[0].study_id, action="export"))
    assert AuditEvent.objects.get(pk=taken + 1000).pk == event.pk
