"""Site-wide account records: the coordinator right, and what happened to accounts.

Study-level changes are in annotation's AuditEvent; these are the ones that belong to no study.
"""

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from django.utils import timezone


class Account(User):
    """Django's user, seen by this app: it carries the site's one right beyond logging in."""

    class Meta:
        proxy = True
        permissions = [("coordinate", "Can create studies (a coordinator); superusers can too")]


class AccountEvent(models.Model):
    """Who did what to which account, and when: written in the same transaction as the change."""

    class Action(models.TextChoices):
        COORDINATOR_GRANT = "coordinator_grant", "Coordinator right given"
        COORDINATOR_REVOKE = "coordinator_revoke", "Coordinator right taken"
        INVITATION = "invitation", "Invited (account created)"
        INVITATION_ACCEPTED = "invitation_accepted", "Invitation accepted (password set)"
        PASSWORD_CHANGE = "password_change", "Password changed"
        PASSWORD_RESET = "password_reset", "Password reset by e-mail"
        LOCKOUT = "lockout", "Locked out after failed logins"
        ADMIN_CHANGE = "admin_change", "Changed in the admin"

    # Null for the system: a command-line change, a lockout.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=24, choices=Action.choices)
    target = models.CharField(max_length=200, blank=True)  # a username
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["target", "created_at"], name="accountevent_target_time")]

    def __str__(self) -> str:
        return f"{self.action} {self.target}"
