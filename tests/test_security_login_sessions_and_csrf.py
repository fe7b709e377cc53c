"""Sessions end, weak passwords are refused, and every form (and the reading page's fetch) needs its
CSRF token. The login limit: tests/test_one_login_limit_for_every_entry_point.py."""

import re

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client

from tests.conftest import COHEN_VALUES, PASSWORD
from tests.security_support import page_ids, rich_study_create
from tests.test_security_permission_matrix import MATRIX


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _login(client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


# --- sessions ---------------------------------------------------------------------------------------


def test_session_lasts_a_working_day_and_ends_with_the_browser(personas, client):
    assert django_settings.SESSION_COOKIE_AGE == 8 * 60 * 60
    assert django_settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert _login(client, "alice", PASSWORD).status_code == 302
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == "" and cookie["expires"] == ""  # a browser-session cookie
    assert cookie["httponly"]
    assert 0 < client.session.get_expiry_age() <= 8 * 60 * 60


def test_an_expired_session_is_sent_back_to_login(personas, client):
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    assert _login(client, "alice", PASSWORD).status_code == 302
    assert client.get("/").status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- passwords --------------------------------------------------------------------------------------


@pytest.mark.parametrize("weak", ["short1", "password123", "12345678901", "Rater1"])
def test_weak_passwords_are_refused_by_the_configured_validators(personas, weak):
    with pytest.raises(ValidationError):
        validate_password(weak, user=personas["rater1"])


def test_a_strong_password_passes(personas):
    validate_password(PASSWORD, user=personas["rater1"])


def test_changepassword_command_refuses_a_weak_password(personas, monkeypatch):
    from django.core.management import CommandError, call_command

    answers = iter(["short1", "short1"] * 3)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError):
        call_command("changepassword", "alice")
    personas["alice"].refresh_from_db()
    assert personas["alice"].check_password(PASSWORD)


# --- CSRF -------------------------------------------------------------------------------------------

FORM_ACTIONS = [(url, data) for method, url, data, *_ in MATRIX if method == "post"]


@pytest.fixture
def ids(personas):
    return page_ids(rich_study_create(personas), personas)


def _who_may(url: str) -> str:
    return "rater1" if url.startswith("/read/") else "alice"


@pytest.mark.parametrize(("url", "data"), FORM_ACTIONS, ids=[url for url, _ in FORM_ACTIONS])
def test_every_form_action_needs_the_csrf_token(ids, personas, url, data):
    client = Client(enforce_csrf_checks=True)
    if url != "/accounts/login/":
        client.force_login(personas[_who_may(url)])
    client.get("/accounts/login/")  # sets the CSRF cookie, as any page with a form does
    body = data() if callable(data) else dict(data or {})
    with transaction.atomic():
        assert client.post(url.format(**ids), body).status_code == 403
        transaction.set_rollback(True)
    body = data() if callable(data) else dict(data or {})
    body["csrfmiddlewaretoken"] = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    with transaction.atomic():
        assert client.post(url.format(**ids), body).status_code != 403
        transaction.set_rollback(True)


def test_login_form_needs_the_csrf_token(personas):
    client = Client(enforce_csrf_checks=True)
    assert _login(client, "alice", PASSWORD).status_code == 403
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get("/accounts/login/").content.decode())[1]
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


def test_reading_page_forms_carry_the_token_that_read_js_sends(ids, personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["rater1"])
    page = client.get(f"/read/{ids['mine']}/").content.decode()
    forms = re.findall(r"<form\b.*?</form>", page, flags=re.S)
    post_forms = [f for f in forms if re.search(r'method="post"', f, flags=re.I)]
    assert len(post_forms) >= 2  # scores and flag
    for form in post_forms:
        assert 'name="csrfmiddlewaretoken"' in form
    # read.js posts `new FormData(form)`: the hidden token field travels with it.
    script = (django_settings.BASE_DIR / "static" / "js" / "read.js").read_text()
    assert "new FormData(form)" in script
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', post_forms[0])[1]
    posted = client.post(
        f"/read/{ids['mine']}/", {**COHEN_VALUES, "csrfmiddlewaretoken": token}, HTTP_X_REQUESTED_WITH="fetch"
    )
    assert posted.status_code == 302
