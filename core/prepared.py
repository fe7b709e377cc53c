"""Reads compiled to SQL once a process, then run with other values.

For the few statements every rater request makes, building and compiling the queryset costs more
CPU than the database takes to run it: the place of a case in the rater's queue (four subqueries)
took ~6 ms of CPU to write as SQL and well under 1 ms to run (bench/load_ratings.py). A
`PreparedRead` builds its queryset once with stand-in values, keeps the SQL the ORM wrote, and from
then on runs it with the real values, reading the rows back as the ORM would (its converters; model
instances with their select_related objects, or dicts for a `.values(...)` queryset). The query
itself stays written with the ORM, in one place, and what it means cannot drift from what runs.

On PostgreSQL the statement is also prepared on the server, once a connection: the server then
neither parses nor plans it again (about half of PostgreSQL's CPU for a rater's save and next case,
bench/load_ratings.py). `DATABASE_PREPARED_STATEMENTS=0` turns that off for a pooler that pools by
transaction, where a connection's next statement may reach another server session.

Values are integers (`values`) or strings (`texts`), and each must be used as it is, where the ORM
passes it through to the statement's parameters (filters, `Value`): preparing checks that every
stand-in came through, and fails loudly otherwise; a value computed from one (`study_id + 1`) would
be kept as a constant, so a builder never computes with its values. Anything that shapes the SQL
itself (which branch of the query, a list, the clock) goes in `shape`, each shape compiled once, or
stays out of prepared reads.
"""

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, models, router, transaction
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import QuerySet, signals, sql
from django.db.models.query import ModelIterable, ValuesIterable, get_related_populators
from django.db.transaction import TransactionManagementError

from core.bulk import field_preparer

# Stand-ins: inside a 32-bit integer column's range (Django turns a filter on an out-of-range
# integer into an empty result before writing any SQL), and far from any id, count or order key
# the platform writes in practice; text that no slug, id or key can be.
_FIRST_STAND_IN = -2_101_234_567
_TEXT_STAND_IN = "\x1bprepared:{}\x1b"


class PreparedReadError(RuntimeError):
    """The queryset cannot be prepared: a value did not reach the SQL as a parameter."""


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Per parameter: the name of the value that goes there, or None for a constant kept as is.
    slots: tuple[str | None, ...]
    # Per parameter: the type the ORM passed (on PostgreSQL a typed Int4 or Int8 for some integers).
    kinds: tuple[type, ...]
    constants: tuple
    # Per selected column: the expression and the functions that turn its value into Python (the
    # backend's and the field's), as the ORM applies them. Taken from the connection that compiled;
    # they depend on the settings alone, the same for every connection of the process.
    converters: tuple
    locks: bool  # SELECT ... FOR UPDATE: only inside a transaction, as the ORM requires
    # A `.values(...)` queryset: the names of its columns. Else the model and how to build it.
    names: tuple[str, ...] | None
    model: type | None = None
    fields: tuple[str, ...] = ()
    columns: slice | None = None
    populators: tuple = ()


class _Prepared:
    """What a prepared read and a prepared update share: the values, the SQL compiled once per
    database and shape, and each call's parameters."""

    def __init__(
        self,
        build: Callable[..., QuerySet | tuple[QuerySet, dict]],
        *,
        values: tuple[str, ...] = (),
        texts: tuple[str, ...] = (),
    ):
        self._build = build
        self._values, self._texts = values, texts
        self._compiled: dict[tuple, _Compiled] = {}
        self._lock = threading.Lock()

    def _statement(self, shape: Hashable, using: str, values: dict) -> tuple[_Compiled, list]:
        if set(values) != {*self._values, *self._texts}:
            raise TypeError(f"values {sorted(values)} do not match {sorted((*self._values, *self._texts))}")
        key = (using, connections[using].vendor, shape)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:  # compiled once, also when several threads of a process start at once
                compiled = self._compiled.get(key) or self._compile(shape, using=using)
                self._compiled[key] = compiled
        params = [
            kind(values[slot]) if slot else constant
            for slot, kind, constant in zip(compiled.slots, compiled.kinds, compiled.constants, strict=True)
        ]
        return compiled, params

    def _stand_ins(self) -> dict[str, int | str]:
        stand_ins = {name: _FIRST_STAND_IN - number for number, name in enumerate(self._values)}
        stand_ins.update({name: _TEXT_STAND_IN.format(name) for name in self._texts})
        return stand_ins

    @staticmethod
    def _parameters(sql: str, params, stand_ins: dict, **rest) -> _Compiled:
        """Where each stand-in went among the statement's parameters; all must be there."""
        by_value = {value: name for name, value in stand_ins.items()}
        slots = tuple(by_value.get(p) if _may_stand_in(p) else None for p in params)
        missing = set(stand_ins) - set(slots)
        if missing:
            raise PreparedReadError(f"{sorted(missing)} did not reach the SQL as parameters: not preparable")
        return _Compiled(sql=sql, slots=slots, kinds=tuple(type(p) for p in params), constants=tuple(params), **rest)

    def _compile(self, shape: Hashable, *, using: str) -> _Compiled:
        raise NotImplementedError


class PreparedRead(_Prepared):
    """`build(shape, **values)` returns a queryset; `first(shape, **values)` runs its SQL with these
    values and returns the first row: a model instance (with what it select_related), or a dict for
    a `.values(...)` queryset; None when there is none."""

    def first(self, shape: Hashable = (), *, using: str = DEFAULT_DB_ALIAS, **values):
        compiled, params = self._statement(shape, using, values)
        connection = connections[using]
        if compiled.locks and connection.get_autocommit():
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        with _cursor(connection) as cursor:
            cursor.execute(compiled.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        row = _converted(row, compiled.converters, connection)
        if compiled.names is not None:
            return dict(zip(compiled.names, row, strict=True))
        instance = compiled.model.from_db(using, compiled.fields, row[compiled.columns])
        for populator in compiled.populators:
            populator.populate(row, instance)
        return instance

    def _compile(self, shape: Hashable, *, using: str) -> _Compiled:
        stand_ins = self._stand_ins()
        queryset = self._build(shape, **stand_ins)[:1]
        if queryset._known_related_objects or queryset._prefetch_related_lookups:
            raise PreparedReadError("a prepared read takes no known related objects and no prefetching")
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        common = {
            "converters": tuple(_converters_of(expression, connections[using]) for expression, _, _ in compiler.select),
            "locks": bool(queryset.query.select_for_update),
        }
        if queryset._iterable_class is ValuesIterable:  # .values(...)
            names = tuple(alias or expression.target.attname for expression, _, alias in compiler.select)
            return self._parameters(sql, params, stand_ins, **common, names=names)
        if queryset._iterable_class is not ModelIterable or compiler.annotation_col_map:
            raise PreparedReadError("a prepared read returns model instances without annotations, or .values() rows")
        # As django.db.models.query.ModelIterable builds its instances.
        select_fields = compiler.klass_info["select_fields"]
        columns = slice(select_fields[0], select_fields[-1] + 1)
        return self._parameters(
            sql,
            params,
            stand_ins,
            **common,
            names=None,
            model=compiler.klass_info["model"],
            fields=tuple(expression.target.attname for expression, _, _ in compiler.select[columns]),
            columns=columns,
            populators=tuple(get_related_populators(compiler.klass_info, compiler.select, using)),
        )


class PreparedUpdate(_Prepared):
    """`build(shape, **values)` returns `(queryset, changes)`; `run(shape, **values)` runs the SQL of
    `queryset.update(**changes)` with these values and returns the number of rows changed. For the
    few updates every save makes (the rater's count of reads done, the study's ratings version)."""

    def run(self, shape: Hashable = (), *, using: str = DEFAULT_DB_ALIAS, **values) -> int:
        compiled, params = self._statement(shape, using, values)
        connection = connections[using]
        with transaction.mark_for_rollback_on_error(using=using), _cursor(connection) as cursor:
            cursor.execute(compiled.sql, params)
            return cursor.rowcount

    def _compile(self, shape: Hashable, *, using: str) -> _Compiled:
        stand_ins = self._stand_ins()
        queryset, changes = self._build(shape, **stand_ins)
        # As QuerySet.update writes it.
        query = queryset.query.chain(sql.UpdateQuery)
        query.add_update_values(changes)
        query.annotations = {}
        compiler = query.get_compiler(using=using)
        compiler.pre_sql_setup()  # a filter across a join becomes pk IN (...), as in update()
        statement, params = compiler.as_sql()
        return self._parameters(statement, params, stand_ins, converters=(), locks=False, names=())


# Rows: the save of a model instance with its statement built once.


def row_insert(obj: models.Model, *, using: str | None = None) -> models.Model:
    """INSERT an unsaved instance as `Model.objects.create` would (its primary key read back), with
    the statement built once a process and database, not compiled for each row: for the rows every
    rater's save writes (the rating, its trail event). A model with a save() or save signals of its
    own, or with parents, is saved through save() instead."""
    model = type(obj)
    using = using or router.db_for_write(model, instance=obj)
    if obj.pk is not None or not _saved_plainly(model):
        obj.save(force_insert=True, using=using)
        return obj
    obj._prepare_related_fields_for_save(operation_name="save")
    connection = connections[using]
    statement = _row_statement(model, None, connection)
    params = [prepare(obj) for prepare in statement.values]
    with transaction.mark_for_rollback_on_error(using=using), _cursor(connection) as cursor:
        cursor.execute(statement.sql, params)
        if statement.returns:
            obj.pk = cursor.fetchone()[0]
        else:
            obj.pk = connection.ops.last_insert_id(cursor, model._meta.db_table, model._meta.pk.column)
    obj._state.adding, obj._state.db = False, using
    return obj


def row_update(obj: models.Model, *, fields: tuple[str, ...], using: str | None = None) -> None:
    """UPDATE the named fields of a stored instance as `obj.save(update_fields=fields)` would, with
    the statement built once (see row_insert); a row that is gone raises DatabaseError, as there."""
    model = type(obj)
    using = using or obj._state.db or router.db_for_write(model, instance=obj)
    if not _saved_plainly(model):
        obj.save(update_fields=fields, using=using)
        return
    obj._prepare_related_fields_for_save(operation_name="save")
    connection = connections[using]
    statement = _row_statement(model, tuple(fields), connection)
    params = [prepare(obj) for prepare in statement.values]
    with transaction.mark_for_rollback_on_error(using=using), _cursor(connection) as cursor:
        cursor.execute(statement.sql, [*params, obj.pk])
        if cursor.rowcount != 1:
            raise DatabaseError("Save with update_fields did not affect any rows.")


@dataclass(frozen=True)
class _RowStatement:
    sql: str
    values: tuple[Callable[[models.Model], object], ...]  # per placeholder, the value of the instance
    returns: bool = False  # INSERT ... RETURNING the primary key


_ROW_STATEMENTS: dict[tuple, _RowStatement] = {}


def _row_statement(model: type[models.Model], fields: tuple[str, ...] | None, connection) -> _RowStatement:
    key = (model, fields, connection.alias, connection.vendor)
    statement = _ROW_STATEMENTS.get(key)
    if statement is None:
        statement = _ROW_STATEMENTS[key] = (
            _insert_statement(model, connection) if fields is None else _update_statement(model, fields, connection)
        )
    return statement


def _insert_statement(model: type[models.Model], connection) -> _RowStatement:
    meta, quote = model._meta, connection.ops.quote_name
    columns = [f for f in meta.concrete_fields if not f.generated and not (f.primary_key and f.db_returning)]
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(meta.db_table), ", ".join(quote(f.column) for f in columns), ", ".join(["%s"] * len(columns))
    )
    returns = connection.features.can_return_columns_from_insert
    if returns:
        returning, _ = connection.ops.return_insert_columns([meta.pk])
        sql = f"{sql} {returning}"
    return _RowStatement(sql=sql, values=tuple(field_preparer(f, connection) for f in columns), returns=returns)


def _update_statement(model: type[models.Model], fields: tuple[str, ...], connection) -> _RowStatement:
    meta, quote = model._meta, connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    if any(not f.concrete or f.primary_key for f in columns):
        raise ValueError(f"{model.__name__}: only concrete fields other than the primary key: {fields}")
    sql = "UPDATE {} SET {} WHERE {} = %s".format(
        quote(meta.db_table), ", ".join(f"{quote(f.column)} = %s" for f in columns), quote(meta.pk.column)
    )
    return _RowStatement(sql=sql, values=tuple(field_preparer(f, connection) for f in columns))


def _saved_plainly(model: type[models.Model]) -> bool:
    """Whether Model.save would do nothing but write the row: no save() of its own, no receivers
    of its save signals, no parent tables, no column the database fills."""
    return (
        model.save is models.Model.save
        and not model._meta.parents
        and not any(f.has_db_default() for f in model._meta.concrete_fields)
        and not signals.pre_save.has_listeners(model)
        and not signals.post_save.has_listeners(model)
    )


def _cursor(connection):
    """A cursor as `connection.cursor()` gives (its statements counted and logged as the ORM's),
    binding the parameters on the server on PostgreSQL: there psycopg prepares each statement once a
    connection (as its `prepare_threshold` option says; None, Django's default and what a
    transaction-pooling proxy needs, turns that off), and from then on the server neither parses nor
    plans it again. Django's own cursors bind on the client and never prepare."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        connection.validate_thread_sharing()
        cursor = ServerBindingCursor(connection.connection)
        return (
            _LoggedServerBindingCursor(cursor, connection)
            if connection.queries_logged
            else connection.make_cursor(cursor)
        )


class _LoggedServerBindingCursor(CursorDebugWrapper):
    """Logged as Django logs a server-binding cursor's statements: with the values written in
    (the statement psycopg keeps for a prepared one has only placeholders)."""

    def execute(self, sql, params=None):
        with self.debug_sql(self.db.ops.compose_sql(sql, params), params):
            return CursorWrapper.execute(self, sql, params)


def _may_stand_in(param) -> bool:
    return isinstance(param, str) or (isinstance(param, int) and not isinstance(param, bool))


def _converters_of(expression, connection) -> tuple:
    return expression, tuple(connection.ops.get_db_converters(expression) + expression.get_db_converters(connection))


def _converted(row: tuple, converters: tuple, connection) -> list:
    # What the ORM does to each value read (SQLite's datetimes and booleans, JSON text, ...).
    values = list(row)
    for index, (expression, functions) in enumerate(converters):
        for convert in functions:
            values[index] = convert(values[index], expression, connection)
    return values
