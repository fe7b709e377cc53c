"""Writes for accounts: invitations, the coordinator right, API tokens, the account trail."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.authtoken.models import Token

from accounts.models import AccountEvent
from accounts.selectors import account_is_invited
from accounts.validators import validate_member_name
from core.errors import InvalidInput, StateConflict
from core.types import User

Action = AccountEvent.Action
UserModel = get_user_model()


def account_event_record(*, actor: User | None, action: str, target: str, details: dict | None = None) -> AccountEvent:
    """One line of the account trail; call it inside the transaction of the change it describes."""
    return AccountEvent.objects.create(actor=actor, action=action, target=target[:200], details=details or {})


# --- the coordinator right -----------------------------------------------------------------------


def _coordinate_permission() -> Permission:
    return Permission.objects.get(content_type__app_label="accounts", codename="coordinate")


@transaction.atomic
def coordinator_set(*, user: User, allowed: bool, actor: User | None = None) -> bool:
    """Give or take the right to create studies; True when it changed. (Superusers always have it.)"""
    has = user.user_permissions.filter(pk=_coordinate_permission().pk).exists()
    if has == allowed:
        return False
    if allowed:
        user.user_permissions.add(_coordinate_permission())
    else:
        user.user_permissions.remove(_coordinate_permission())
    action = Action.COORDINATOR_GRANT if allowed else Action.COORDINATOR_REVOKE
    account_event_record(actor=actor, action=action, target=user.username)
    return True


# --- invitations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberAccount:
    """The account a study member is added as. `invitation_link` only for an account made now: its
    single-use set-password link, for the coordinator to pass on if the e-mail may not arrive."""

    user: User
    invitation_link: str | None = None


def password_link(*, user: User, base_url: str, url_name: str = "invitation") -> str:
    """A single-use link that sets the account's password, valid for PASSWORD_RESET_TIMEOUT."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    path = reverse(url_name, kwargs={"uidb64": uid, "token": default_token_generator.make_token(user)})
    return f"{base_url.rstrip('/')}{path}"


def link_expiry() -> timezone.datetime:
    return timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)


@transaction.atomic
def member_account_get_or_invite(*, name: str, actor: User | None, base_url: str) -> MemberAccount:
    """The account named by a username or an e-mail address. An unknown one is created inactive,
    with no password, and invited by e-mail (when an address is known) to set its own: nobody else
    ever sees or chooses its password. Raises InvalidInput for a name no account may have."""
    name = name.strip()
    try:
        validate_member_name(name)
    except ValidationError as exc:
        raise InvalidInput(f"{name!r}: {'; '.join(exc.messages)}") from None
    field = "email__iexact" if "@" in name else "username"
    existing = UserModel.objects.filter(**{field: name}).order_by("pk").first()
    if existing is not None:
        return MemberAccount(existing)
    user = UserModel(username=name, email=name if "@" in name else "", is_active=False)
    user.set_unusable_password()
    user.save()
    link = password_link(user=user, base_url=base_url)
    account_event_record(actor=actor, action=Action.INVITATION, target=user.username)
    inviter = actor.get_username() if actor is not None else "the site's administrators"
    account_email(
        user=user,
        subject="You are invited to CXR severity",
        template="accounts/email/invitation.txt",
        context={"inviter": inviter, "link": link, "expires": link_expiry()},
    )
    return MemberAccount(user, invitation_link=link)


def invitation_renew(*, user: User, actor: User | None, base_url: str) -> str:
    """A new set-password link for an invited account that has not used its first one (lost, or
    expired); sent by e-mail too when the account has an address."""
    if not account_is_invited(user):
        raise StateConflict(f"{user.get_username()} has set a password already: they log in, or reset it")
    link = password_link(user=user, base_url=base_url)
    account_event_record(actor=actor, action=Action.INVITATION, target=user.username, details={"renewed": True})
    inviter = actor.get_username() if actor is not None else "the site's administrators"
    account_email(
        user=user,
        subject="Your invitation to CXR severity",
        template="accounts/email/invitation.txt",
        context={"inviter": inviter, "link": link, "expires": link_expiry()},
    )
    return link


def account_email(*, user: User, subject: str, template: str, context: dict) -> bool:
    """Send a plain-text e-mail to the account's address; False when it has none."""
    if not user.email:
        return False
    body = render_to_string(template, {"user": user, **context})
    send_mail(subject, body, None, [user.email])
    return True


def invitation_accept(*, user: User) -> None:
    """The invited account set its password (the form saved it): it may log in from now on."""
    user.is_active = True
    user.save(update_fields=["is_active"])
    account_event_record(actor=user, action=Action.INVITATION_ACCEPTED, target=user.username)


# --- API tokens ----------------------------------------------------------------------------------


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


# --- the login limit -----------------------------------------------------------------------------


def lockout_record(*, username: str, address: str) -> None:
    """A username or address reached the failed-login limit: one trail line per lockout window."""
    since = timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_S)
    already = AccountEvent.objects.filter(
        action=Action.LOCKOUT, target=username[:200], details__address=address, created_at__gte=since
    )
    if not already.exists():
        account_event_record(actor=None, action=Action.LOCKOUT, target=username, details={"address": address})
