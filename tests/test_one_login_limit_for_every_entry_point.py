"""One failed-login limit for the login page, the API's auth/login/ and the admin (django-axes): per
username and per client address, the address taken from X-Forwarded-For only behind a trusted proxy.
Written as the attacks: rotating X-Forwarded-For on the API, repeated admin logins, the right
password of a locked user on another entry point."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AccountEvent
from tests.api_support import API
from tests.conftest import PASSWORD

LIMIT = 3


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    # The API's rate throttle out of the way: these tests are about the login limit alone.
    rates = {"login": "1000/minute", "token": "1000/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    cache.clear()


def _page(username: str, password: str, **meta):
    return Client().post("/accounts/login/", {"username": username, "password": password}, **meta)


def _api(username: str, password: str, **meta):
    return APIClient().post(f"{API}/auth/login/", {"username": username, "password": password}, format="json", **meta)


def _admin(username: str, password: str, **meta):
    return Client().post("/admin/login/?next=/admin/", {"username": username, "password": password}, **meta)


def test_a_user_locked_on_the_page_is_locked_on_the_api_and_the_admin_too(personas):
    personas["alice"].is_staff = True
    personas["alice"].save()
    for _ in range(LIMIT):
        _page("alice", "wrong")
    assert _page("alice", PASSWORD).status_code == 429
    api = _api("alice", PASSWORD)
    assert api.status_code == 429 and api.json()["error"]["code"] == "locked_out"
    assert "token" not in api.json()
    admin = _admin("alice", PASSWORD)
    assert admin.status_code == 429 and "_auth_user_id" not in admin.client.session


def test_rotating_x_forwarded_for_on_the_api_gains_nothing(personas):
    answers = [_api("alice", "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code for i in range(LIMIT + 2)]
    assert answers == [400] * (LIMIT - 1) + [429] * 3
    # Nor does guessing other usernames from the same place: the address is locked too.
    assert _api("rater1", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429


def test_repeated_admin_logins_are_limited(personas):
    root = get_user_model().objects.create_superuser("root", password=PASSWORD)
    codes = [_admin("root", "wrong").status_code for _ in range(LIMIT + 1)]
    assert codes[: LIMIT - 1] == [200] * (LIMIT - 1) and codes[-1] == 429
    assert _admin(root.username, PASSWORD).status_code == 429


def test_behind_a_trusted_proxy_one_client_cannot_lock_out_the_others(personas, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for name in ("nobody1", "nobody2", "nobody3"):  # one attacker, many usernames
        _page(name, "wrong", HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy)
    assert _page("rater2", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy).status_code == 429
    assert _page("rater1", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy).status_code == 302
    # Someone who is not the proxy cannot choose the address they are counted under.
    assert _page("rater3", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7", REMOTE_ADDR="203.0.113.9").status_code == 429


def test_a_lockout_is_on_the_trail_once_and_ends_with_the_window(personas, settings):
    for _ in range(LIMIT + 3):
        _page("alice", "wrong")
    assert AccountEvent.objects.filter(action="lockout", target="alice").count() == 1
    assert _page("alice", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert _page("alice", PASSWORD).status_code == 302


def test_a_successful_login_is_not_a_failure(personas):
    for _ in range(LIMIT + 2):
        assert _page("alice", PASSWORD).status_code == 302
    assert _api("alice", PASSWORD).status_code == 200
