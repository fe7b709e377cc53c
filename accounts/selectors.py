"""Reads for accounts."""

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from core.prepared import PreparedRead
from core.types import User, Visitor


def api_token_for_user(*, user: Visitor) -> Token | None:
    return Token.objects.filter(user=user).first()


def api_token_with_user(*, key: str) -> Token | None:
    """The token with this key and its user (`token.user`, loaded), or None.

    Every API request makes this read, so its SQL is written once a process (core.prepared): the
    ORM spent ~1.5 ms of CPU a request compiling the same query (bench/load_ratings.py). No caching
    of the answer: a revoked token or a deactivated account is refused from the next request on.
    """
    return _TOKEN_WITH_USER.first(key=key)


_TOKEN_WITH_USER = PreparedRead(
    lambda shape, *, key: Token.objects.select_related("user").filter(key=key), texts=("key",)
)


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
