"""Helpers for the API tests (tests/test_api_*.py): token-authenticated clients for the personas."""

from rest_framework.test import APIClient

from accounts.services import api_token_get_or_create

API = "/api/v1"


def api_client(user=None) -> APIClient:
    """A client that authenticates like a script: `Authorization: Token ...`; anonymous without a user."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_get_or_create(user=user).key}")
    return client


def error_of(response) -> dict:
    """The one error shape: {"error": {"code", "message", "fields"}}."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]
