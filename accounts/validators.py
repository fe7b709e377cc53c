"""One rule for the names accounts may have, for the member forms, the API and the commands."""

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, MaxLengthValidator

MAX_LENGTH = 150  # Django's username field
_username = UnicodeUsernameValidator(
    message="a username may contain only letters, digits and @ . + - _ (no spaces or other signs)"
)
_length = MaxLengthValidator(MAX_LENGTH, message=f"at most {MAX_LENGTH} characters")
_email = EmailValidator(message="not a valid e-mail address")


def validate_username(value: str) -> None:
    _length(value)
    _username(value)


def validate_member_name(value: str) -> None:
    """A username, or an e-mail address (which then is the new account's username too)."""
    if not value:
        raise ValidationError("give a username or an e-mail address")
    validate_username(value)
    if "@" in value:
        _email(value)
