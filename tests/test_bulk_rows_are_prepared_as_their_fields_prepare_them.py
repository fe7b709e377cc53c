"""core.bulk reads a row's values at once and prepares only those that need it; each value must be
what the field's own preparation gives (times in any zone, nulls, JSON, choices, foreign keys)."""

import datetime as dt
import warnings

import pytest
from django.db import connection, models

from annotation.models import Assignment, AuditEvent, Rating
from core.bulk import _row_values, field_preparer

TIMES = [
    None,
    dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC),
    dt.datetime(2026, 6, 30, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=-7))),
]


def _fields(model):
    return [f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))]


def _as_the_field_prepares_it(obj):
    return [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in _fields(type(obj))]


def _comparable(values):
    return [getattr(v, "obj", v) for v in values]  # psycopg's Jsonb wraps the JSON on PostgreSQL


def _instances():
    for when in TIMES:
        yield Rating(
            assignment_id=7,
            revision=2,
            values={"extent_right": 1, "opacity_left": None},
            totals={"opacity": 1},
            reading_time_s=None if when is None else 3.5,
            source=Rating.Source.IMPORT,
            created_at=when or TIMES[1],
            prelabel_values=None if when is None else {"extent_right": 2},
        )
        yield AuditEvent(study_id=3, actor_id=None, action="export", target="t", details={"n": [1, 2]}, created_at=when)
        yield Assignment(
            study_id=1, case_id=2, rater_id=3, order_key=-5, completed_at=when, flagged_at=when, available_at=None
        )


@pytest.mark.django_db
@pytest.mark.parametrize("obj", list(_instances()), ids=lambda obj: type(obj).__name__)
def test_each_value_is_the_fields_own_preparation(obj):
    fields = _fields(type(obj))
    row = _comparable(_row_values(fields, connection)(obj))  # an auto_now_add time is set on obj here
    expected = _comparable(_as_the_field_prepares_it(obj))
    assert row == expected
    fixed = [i for i, f in enumerate(fields) if not getattr(f, "auto_now_add", False)]  # not stamped again
    by_field = _comparable([field_preparer(f, connection)(obj) for f in fields])
    assert [by_field[i] for i in fixed] == [expected[i] for i in fixed]


@pytest.mark.django_db
def test_a_naive_time_takes_the_fields_way_with_its_warning():
    rating = Rating(assignment_id=1, revision=1, values={}, totals={}, created_at=dt.datetime(2026, 1, 2, 3, 4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        row = _row_values(_fields(Rating), connection)(rating)
    assert any("naive datetime" in str(w.message) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _comparable(row) == _comparable(_as_the_field_prepares_it(rating))
