"""Reads for accounts."""

from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token

from core.types import User, Visitor


def api_token_for_user(*, user: Visitor) -> Token | None:
    return Token.objects.filter(user=user).first()


def api_token_with_user(*, key: str) -> Token | None:
    """The token with this key and its user (`token.user`, loaded), or None.

    Every API request makes this read, so it is one plain statement built once a process, its
    values converted as the ORM converts them: the ORM's `select_related("user").get(key=...)` spent
    ~1.5 ms of CPU a request compiling the same query (bench/load_ratings.py). No caching across
    requests: a revoked token or a deactivated account is refused from the next request on.
    """
    sql, fields, converters = _token_with_user_statement(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    values = [_from_db(value, field) for value, field in zip(row, converters, strict=True)]
    user_fields = [field.attname for field in fields[:-2]]
    user = get_user_model().from_db(connection.alias, user_fields, values[:-2])
    token = Token.from_db(connection.alias, ["key", "user_id", "created"], (values[-2], user.pk, values[-1]))
    token.user = user
    return token


def _from_db(value, converters: tuple):
    column, functions = converters
    for convert in functions:
        value = convert(value, column, connection)
    return value


def _converters(field) -> tuple:
    # What the ORM does to a value read: the backend's converters (SQLite's datetimes come back as
    # naive text), then the field's own.
    column = field.get_col(field.model._meta.db_table)
    return column, connection.ops.get_db_converters(column) + field.get_db_converters(connection)


@cache
def _token_with_user_statement(vendor: str) -> tuple[str, list, list]:
    # Per vendor: a process serves one database, but the quoting is the backend's.
    quote = connection.ops.quote_name
    user_fields = list(get_user_model()._meta.concrete_fields)
    token_fields = [Token._meta.get_field("key"), Token._meta.get_field("created")]
    columns = [f"u.{quote(f.column)}" for f in user_fields] + [f"t.{quote(f.column)}" for f in token_fields]
    user_table, token_table = quote(get_user_model()._meta.db_table), quote(Token._meta.db_table)
    user_pk, token_user = quote(get_user_model()._meta.pk.column), quote(Token._meta.get_field("user").column)
    sql = (
        f"SELECT {', '.join(columns)} FROM {token_table} t INNER JOIN {user_table} u ON u.{user_pk} = t.{token_user} "
        f"WHERE t.{quote(token_fields[0].column)} = %s"
    )
    fields = user_fields + token_fields
    return sql, fields, [_converters(field) for field in fields]


def user_is_coordinator(*, user: Visitor) -> bool:
    """Coordinators create studies (superusers are coordinators); everyone else joins studies they
    are added to."""
    return bool(user.is_authenticated and user.is_active and user.has_perm("accounts.coordinate"))


def user_by_name(*, name: str) -> User | None:
    field = "email__iexact" if "@" in name else "username"
    return get_user_model().objects.filter(**{field: name.strip()}).order_by("pk").first()


def account_is_invited(user: User) -> bool:
    """Invited and not yet in: no password set, so the account cannot log in."""
    return not user.is_active and not user.has_usable_password()
