"""API tokens: made and revoked on the profile page, by `create_token` and by a throttled login."""

import io

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.api_support import API, api_client, error_of
from tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # Throttle counters live in the default cache, shared by every test in this process.
    cache.clear()
    yield
    cache.clear()


def _with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_login_exchanges_a_password_for_the_users_token(personas):
    response = APIClient().post(f"{API}/auth/login/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    key = response.json()["token"]
    assert _with_token(key).get(f"{API}/auth/me/").json() == {"username": "alice"}
    again = APIClient().post(f"{API}/auth/login/", {"username": "alice", "password": PASSWORD}, format="json")
    assert again.json()["token"] == key  # the same token the profile page shows, not a new one


def test_a_wrong_password_gets_no_token(personas):
    response = APIClient().post(f"{API}/auth/login/", {"username": "alice", "password": "guess"}, format="json")
    assert response.status_code == 400 and error_of(response)["message"] == "wrong username or password"
    assert not Token.objects.exists()


def test_login_is_limited_and_throttled(personas):
    client = APIClient()
    answers = [
        client.post(f"{API}/auth/login/", {"username": "alice", "password": "guess"}, format="json") for _ in range(11)
    ]
    assert [a.status_code for a in answers] == [400] * 9 + [429, 429]
    # The tenth failure reaches the login limit (every entry point's); the eleventh is over the
    # API's rate as well.
    assert error_of(answers[9])["code"] == "locked_out" and error_of(answers[10])["code"] == "throttled"
    response = client.post(f"{API}/auth/login/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0


def test_token_changes_are_throttled(personas):
    client = api_client(personas["rater1"])
    for _ in range(30):  # counted per user, whichever token they use
        response = client.post(f"{API}/auth/token/")
        assert response.status_code == 201
        client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    response = client.delete(f"{API}/auth/token/")
    assert response.status_code == 429 and error_of(response)["code"] == "throttled"


def test_a_new_token_replaces_the_old_and_revoking_ends_it(personas):
    old = api_client(personas["alice"])
    new_key = old.post(f"{API}/auth/token/").json()["token"]
    assert old.get(f"{API}/auth/me/").status_code == 401
    new = _with_token(new_key)
    assert new.get(f"{API}/auth/me/").status_code == 200
    assert new.delete(f"{API}/auth/token/").status_code == 204
    response = new.get(f"{API}/auth/me/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert error_of(response)["code"] == "authentication_failed"


def test_no_credentials_is_401_with_the_error_shape(db):
    response = APIClient().get(f"{API}/studies/")
    assert response.status_code == 401 and error_of(response)["code"] == "not_authenticated"


def test_a_browser_session_works_and_needs_csrf_to_write(personas):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(personas["alice"])
    assert client.get(f"{API}/auth/me/").json() == {"username": "alice"}
    response = client.post(f"{API}/studies/", {"slug": "x", "title": "X"}, format="json")
    assert response.status_code == 403 and "CSRF" in error_of(response)["message"]


def test_profile_page_creates_shows_once_and_revokes_a_token(personas, client_for):
    client = client_for("alice")
    page = client.get("/accounts/profile/").content.decode()
    assert "You have no token" in page and 'href="/accounts/profile/"' in page  # the nav links here
    created = client.post("/accounts/profile/", {"action": "create"})
    key = Token.objects.get(user=personas["alice"]).key
    assert key in created.content.decode() and created["Cache-Control"].startswith("max-age=0")
    assert key not in client.get("/accounts/profile/").content.decode()  # shown once
    assert _with_token(key).get(f"{API}/auth/me/").status_code == 200
    response = client.post("/accounts/profile/", {"action": "revoke"})
    assert response.status_code == 302 and not Token.objects.exists()


def test_profile_page_needs_a_login(client, db):
    response = client.get("/accounts/profile/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_create_token_command_prints_a_working_token_and_revokes_it(personas):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_token", "rater1", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert len(key) == 40 and "created an API token" in err.getvalue()
    assert _with_token(key).get(f"{API}/auth/me/").json() == {"username": "rater1"}
    call_command("create_token", "rater1", "--revoke", stdout=out, stderr=err)
    assert _with_token(key).get(f"{API}/auth/me/").status_code == 401
    with pytest.raises(CommandError, match="no user 'nobody'"):
        call_command("create_token", "nobody")


@pytest.mark.parametrize("name", ["alice", "rater1", "olivia", "oscar"])
def test_every_persona_logs_in_to_their_own_token(personas, name):
    response = APIClient().post(f"{API}/auth/login/", {"username": name, "password": PASSWORD}, format="json")
    assert _with_token(response.json()["token"]).get(f"{API}/auth/me/").json() == {"username": name}
