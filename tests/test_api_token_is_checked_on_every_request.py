"""The API token is read again on every request (one plain statement, no cache): a deactivated
account or a revoked token is refused from the next request on, with DRF's messages."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.selectors import api_token_with_user
from tests.api_support import API, error_of


def _with(header: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client


@pytest.fixture
def alice_token(personas):
    return Token.objects.create(user=personas["alice"])


def test_the_token_reads_its_user_in_one_statement(alice_token, personas):
    with CaptureQueriesContext(connection) as queries:
        token = api_token_with_user(key=alice_token.key)
    assert len(queries) == 1
    assert token.pk == alice_token.key and token.created == alice_token.created
    with CaptureQueriesContext(connection) as queries:
        user = token.user  # loaded with the token, every field as the ORM would read it
    assert len(queries) == 0
    assert user == personas["alice"] and user.username == "alice" and user.password == personas["alice"].password
    assert user.is_active and user.date_joined == personas["alice"].date_joined
    assert api_token_with_user(key="x" * 40) is None


def test_a_valid_token_is_the_users_identity(alice_token):
    response = _with(f"Token {alice_token.key}").get(f"{API}/auth/me/")
    assert response.status_code == 200 and response.json() == {"username": "alice"}


def test_a_deactivated_account_is_refused_at_the_next_request(alice_token, personas):
    client = _with(f"Token {alice_token.key}")
    assert client.get(f"{API}/auth/me/").status_code == 200
    personas["alice"].is_active = False
    personas["alice"].save(update_fields=["is_active"])
    response = client.get(f"{API}/auth/me/")
    assert response.status_code == 401 and error_of(response)["message"] == "User inactive or deleted."


def test_a_deleted_token_is_refused_at_the_next_request(alice_token):
    client = _with(f"Token {alice_token.key}")
    assert client.get(f"{API}/auth/me/").status_code == 200
    alice_token.delete()
    response = client.get(f"{API}/auth/me/")
    assert response.status_code == 401 and error_of(response)["message"] == "Invalid token."
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    "header, message",
    [
        ("Token", "Invalid token header. No credentials provided."),
        ("Token a b", "Invalid token header. Token string should not contain spaces."),
        ("Token ' OR '1'='1", "Invalid token header. Token string should not contain spaces."),
        ("Token '--", "Invalid token."),
        ("Token " + "f" * 40, "Invalid token."),
    ],
)
def test_a_malformed_or_unknown_token_is_refused(db, header, message):
    response = _with(header).get(f"{API}/auth/me/")
    assert response.status_code == 401 and error_of(response)["message"] == message
