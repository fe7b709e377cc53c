"""Reads for accounts."""

from rest_framework.authtoken.models import Token

from core.types import Visitor


def api_token_for_user(*, user: Visitor) -> Token | None:
    return Token.objects.filter(user=user).first()
