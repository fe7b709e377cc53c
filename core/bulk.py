"""Insert many rows with one prepared statement (the DB-API's executemany), for imports.

Django's bulk_create compiles SQL for every value of every row (a placeholder, a pre_save, a
db-prep call each): for the 27,000 rows of a 9,000-rating import that costs several times what the
database spends storing them. Here the statement is built once and only the values that need a
conversion for the database (JSON, dates, UUIDs...) go through their field's preparation.

What bulk_create would do otherwise holds: defaults and auto_now_add are applied, no signals are
sent. The primary keys are not read back, so use it for rows nothing refers to by id in the same
transaction (or look them up afterwards by a natural key).
"""

from collections.abc import Callable, Sequence

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
    prepare = [field_preparer(field, connection) for field in fields]
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(model._meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            batch = objs[start : start + batch_size]
            cursor.executemany(sql, [tuple(p(obj) for p in prepare) for obj in batch])
    return len(objs)


def field_preparer(field: models.Field, connection) -> Callable[[models.Model], object]:
    """A function of an instance giving the field's value as the database takes it."""
    attname = field.attname
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda obj: field.get_db_prep_save(field.pre_save(obj, add=True), connection)
    target = field.target_field if field.is_relation else field
    if isinstance(target, _AS_IS):  # the auto fields too: they are integer fields
        return lambda obj: getattr(obj, attname)
    return lambda obj: field.get_db_prep_save(getattr(obj, attname), connection)
