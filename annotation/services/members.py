"""Members of a study: who owns, rates, observes and adjudicates it."""

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.selectors import user_by_name
from accounts.services import account_email, invitation_renew, member_account_get_or_invite
from annotation.audit import Action, audit_record
from annotation.models import Adjudication, Study, StudyMembership
from annotation.permissions import (
    Ability,
    may,
    may_become_adjudicator,
    may_invite_accounts,
    may_stop_rating,
    rater_refusal,
)
from annotation.services.assignment import study_assign_cases, study_rebalance
from annotation.services.studies import StudyStateError
from core.errors import NotAllowed
from core.types import User

UserModel = get_user_model()


@transaction.atomic
def membership_add(
    *, study: Study, user: User, role: str, actor: User | None = None, rebalance: bool = True
) -> StudyMembership:
    """Add or change a member's role. A rater's queue seed is drawn once and kept. Roles that must
    not mix are refused (annotation/permissions.py: a rater reads blind). A rater who joins an open
    study gets cases that lack raters and, with rebalance, an equal share of the reads the others
    have left (annotation/services/assignment.py study_rebalance)."""
    if study.is_locked:
        raise StudyStateError("the study is locked")
    if role == StudyMembership.Role.REMOVED:
        raise StudyStateError("a rater is removed, with their unread cases given to the others, not given a role")
    membership, created = StudyMembership.objects.get_or_create(
        study=study, user=user, defaults={"role": role, "queue_seed": secrets.randbits(48)}
    )
    if not created and membership.role != role:
        _role_change_check(membership, study=study, role=role)
        audit_record(
            study=study,
            actor=actor,
            action=Action.ROLE_CHANGE,
            target=user.username,
            details={"from": membership.role, "to": role},
        )
        membership.role = role
        if role == StudyMembership.Role.RATER:  # a removed rater taken back: their reads count again
            membership.removed_at, membership.ratings_kept = None, False
        membership.save(update_fields=["role", "removed_at", "ratings_kept"])
    if created:
        audit_record(study=study, actor=actor, action=Action.MEMBER_ADD, target=user.username, details={"role": role})
    if may(membership, Ability.RATE) and study.status == Study.Status.OPEN:
        study_assign_cases(study=study)
        if rebalance:
            study_rebalance(study=study, actor=actor)
    return membership


def _role_change_check(membership: StudyMembership, *, study: Study, role: str) -> None:
    if not may_stop_rating(membership, has_cases=study.assignments.filter(rater=membership.user).exists()):
        raise StudyStateError(f"{membership.user.username} already has cases assigned and stays a rater")
    if role == StudyMembership.Role.RATER:
        adjudicated = Adjudication.objects.filter(case__study=study, adjudicator=membership.user).exists()
        refusal = rater_refusal(membership, study=study, has_adjudicated=adjudicated)
        if refusal:
            raise StudyStateError(refusal)


def user_get_or_create(*, username: str) -> tuple[User, bool]:
    """A user for a name in a restored backup; new users get an unusable password until someone
    invites them to set one."""
    user, created = UserModel.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user, created


@dataclass(frozen=True)
class MemberAdded:
    membership: StudyMembership
    # Only when the account was made now: its single-use set-password link, for the coordinator to
    # pass on (also e-mailed when the name was an address). Never a password.
    invitation_link: str | None = None


def member_add(*, study: Study, name: str, role: str, actor: User | None, base_url: str) -> MemberAdded:
    """Add a member by username or e-mail address. An existing account is added and told by e-mail;
    a name nobody has yet gets an invited, inactive account, made only by a coordinator (or the
    command line, actor None)."""
    with transaction.atomic():
        if user_by_name(name=name) is None and not may_invite_accounts(actor):
            raise NotAllowed(
                f"nobody is called {name!r} here yet, and only a coordinator can invite someone new: "
                "ask one, or add an existing account"
            )
        account = member_account_get_or_invite(name=name, actor=actor, base_url=base_url)
        membership = membership_add(study=study, user=account.user, role=role, actor=actor)
    if account.invitation_link is None:
        account_email(
            user=account.user,
            subject=f"You are {membership.get_role_display().lower()} of a study",
            template="annotation/email/member_added.txt",
            context={"study": study, "membership": membership, "link": f"{base_url.rstrip('/')}/"},
        )
    return MemberAdded(membership, account.invitation_link)


def member_invitation_renew(*, membership: StudyMembership, actor: User | None, base_url: str) -> str:
    """A new invitation link for a member who has not set a password yet (a coordinator's act)."""
    if not may_invite_accounts(actor):
        raise NotAllowed("only a coordinator can send invitations")
    return invitation_renew(user=membership.user, actor=actor, base_url=base_url)


@transaction.atomic
def membership_set_adjudicator(
    *, study: Study, user: User, allowed: bool, actor: User | None = None
) -> StudyMembership:
    """Let an owner or observer adjudicate. A rater cannot: adjudicators see everyone's scores."""
    membership = StudyMembership.objects.get(study=study, user=user)
    if allowed and not may_become_adjudicator(membership):
        raise StudyStateError(f"{user.username} is a rater of this study and cannot adjudicate it")
    if allowed:
        membership.was_adjudicator = True
    if membership.can_adjudicate != allowed:
        audit_record(
            study=study,
            actor=actor,
            action=Action.ADJUDICATOR_CHANGE,
            target=user.username,
            details={"can_adjudicate": allowed},
        )
    membership.can_adjudicate = allowed
    membership.save(update_fields=["can_adjudicate", "was_adjudicator"])
    return membership
