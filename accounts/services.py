"""Writes for accounts: API tokens and the login failure count."""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from rest_framework.authtoken.models import Token

from core.types import User


def api_token_get_or_create(*, user: User) -> Token:
    """The user's API token, created on first use (password login through the API)."""
    token, _ = Token.objects.get_or_create(user=user)
    return token


@transaction.atomic
def api_token_rotate(*, user: User) -> Token:
    """A new API token for the user; the previous one, if any, stops working at once."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def api_token_revoke(*, user: User) -> bool:
    """Delete the user's API token; True if there was one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)


# --- login throttling ----------------------------------------------------------------------------


def _login_failure_key(*, username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}\n{address}".encode()).hexdigest()
    return f"login-failures:{digest}"


def login_failure_record(*, username: str, address: str) -> int:
    """Count one failed login for this username from this address; returns the count in the window."""
    key = _login_failure_key(username=username, address=address)
    # The window starts at the first failure: add() is a no-op when the counter exists already.
    cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW_S)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_S)
        return 1


def login_is_throttled(*, username: str, address: str) -> bool:
    """True once LOGIN_FAILURE_LIMIT failures were recorded within LOGIN_FAILURE_WINDOW_S."""
    return cache.get(_login_failure_key(username=username, address=address), 0) >= settings.LOGIN_FAILURE_LIMIT
