"""API token authentication: DRF's, with the token read in one plain statement (every request)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from accounts.selectors import api_token_with_user


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, with DRF's header parsing and messages; the lookup is
    `api_token_with_user` instead of a compiled ORM query."""

    def authenticate_credentials(self, key: str):
        token = api_token_with_user(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return token.user, token
