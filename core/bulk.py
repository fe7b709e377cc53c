"""Insert many rows with one prepared statement (the DB-API's executemany), for imports.

Django's bulk_create compiles SQL for every value of every row (a placeholder, a pre_save, a
db-prep call each): for the 27,000 rows of a 9,000-rating import that costs several times what the
database spends storing them. Here the statement is built once and only the values that need a
conversion for the database (JSON, dates, UUIDs...) go through their field's preparation.

What bulk_create would do otherwise holds: defaults and auto_now_add are applied, no signals are
sent. The primary keys are not read back, so use it for rows nothing refers to by id in the same
transaction (or look them up afterwards by a natural key).
"""

import gc
import operator
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from datetime import datetime

from django.conf import settings
from django.db import connections, models, router

BATCH = 2000

# Fields whose Python value is what the database adapter takes as is (None included).
_AS_IS = (
    models.IntegerField,
    models.FloatField,
    models.BooleanField,
    models.CharField,
    models.TextField,
)


@contextmanager
def collector_paused():
    """Python's cycle collector paused while a bulk write builds its rows. The rows are all kept
    until they are written, so each pass of the collector over them (one every 700 new objects,
    and full passes as they pile up) finds nothing to free: a fifth of an import's time
    (bench/import_ratings.py). What it would have found it frees when it runs again, after; nothing
    else waits on it (reference counting frees everything else as usual). The collector is switched
    for the whole process: a thread that pauses it while another has it paused leaves it as found."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def bulk_insert(objs: Sequence[models.Model], *, batch_size: int = BATCH) -> int:
    """INSERT the unsaved model instances (all of one model), one executemany per batch; returns the
    number of rows. Call it inside the caller's transaction: a failing batch then undoes them all."""
    if not objs:
        return 0
    model = type(objs[0])
    if any(type(obj) is not model for obj in objs):
        raise TypeError("bulk_insert takes instances of one model")
    connection = connections[router.db_for_write(model)]
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))]
    row = _row_values(fields, connection)
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(model._meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            batch = objs[start : start + batch_size]
            cursor.executemany(sql, [row(obj) for obj in batch])
    return len(objs)


def _row_values(fields: list[models.Field], connection) -> Callable[[models.Model], list]:
    """A function of an instance giving its row as the database takes it: every value read at once,
    then the few that need it prepared (JSON, times...). What field_preparer gives field by field,
    for the tens of thousands of rows of an import."""
    read = operator.attrgetter(*(field.attname for field in fields))
    by_value, by_instance = [], []
    for index, field in enumerate(fields):
        of_instance, prepare = _preparation(field, connection)
        if prepare is not None:
            (by_instance if of_instance else by_value).append((index, prepare))

    def row(obj) -> list:
        values = list(read(obj)) if len(fields) > 1 else [read(obj)]
        for index, prepare in by_value:
            values[index] = prepare(values[index])
        for index, prepare in by_instance:
            values[index] = prepare(obj)
        return values

    return row


def field_preparer(field: models.Field, connection) -> Callable[[models.Model], object]:
    """A function of an instance giving the field's value as the database takes it."""
    attname = field.attname
    of_instance, prepare = _preparation(field, connection)
    if of_instance:
        return prepare
    if prepare is None:
        return lambda obj: getattr(obj, attname)
    return lambda obj: prepare(getattr(obj, attname))


def _preparation(field: models.Field, connection) -> tuple[bool, Callable | None]:
    """How a field's value reaches the database: (True, f(instance)) for a time the field stamps
    itself (auto_now), (False, None) for a value taken as it is, else (False, f(value))."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return True, lambda obj: field.get_db_prep_save(field.pre_save(obj, add=True), connection)
    if isinstance(field.target_field if field.is_relation else field, _AS_IS):  # auto fields too: integers
        return False, None
    return False, _value_preparer(field, connection)


def _value_preparer(field: models.Field, connection) -> Callable[[object], object]:
    if isinstance(field, models.DateTimeField):
        # A time with its zone (what the platform writes) goes straight to the backend's
        # adaptation, where the field's preparation ends for it; None and anything else take the
        # field's whole way (a naive time is made aware there, with its warning). None is NULL.
        adapt = connection.ops.adapt_datetimefield_value

        def prepare_time(value):
            if value is None:
                return None
            if type(value) is datetime and value.tzinfo is not None and settings.USE_TZ:
                return adapt(value)
            return field.get_db_prep_save(value, connection)

        return prepare_time
    return lambda value: field.get_db_prep_save(value, connection)
