"""Members of a study: who owns, rates, observes and adjudicates it."""

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction

from annotation.audit import Action, audit_record
from annotation.models import Study, StudyMembership
from annotation.permissions import Ability, may, may_become_adjudicator, may_stop_rating
from annotation.services.assignment import study_assign_cases
from annotation.services.studies import StudyStateError
from core.types import User

UserModel = get_user_model()


@transaction.atomic
def membership_add(*, study: Study, user: User, role: str, actor: User | None = None) -> StudyMembership:
    """Add or change a member's role. A rater's queue seed is drawn once and kept."""
    if study.is_locked:
        raise StudyStateError("the study is locked")
    membership, created = StudyMembership.objects.get_or_create(
        study=study, user=user, defaults={"role": role, "queue_seed": secrets.randbits(48)}
    )
    if not created and membership.role != role:
        if not may_stop_rating(membership, has_cases=study.assignments.filter(rater=user).exists()):
            raise StudyStateError(f"{user.username} already has cases assigned and stays a rater")
        audit_record(
            study=study,
            actor=actor,
            action=Action.ROLE_CHANGE,
            target=user.username,
            details={"from": membership.role, "to": role},
        )
        membership.role = role
        membership.save(update_fields=["role"])
    if created:
        audit_record(study=study, actor=actor, action=Action.MEMBER_ADD, target=user.username, details={"role": role})
    if may(membership, Ability.RATE) and study.status == Study.Status.OPEN:
        study_assign_cases(study=study)  # a new rater of an open study gets a share of the cases
    return membership


def user_get_or_create(*, username: str) -> tuple[User, bool]:
    """A user for a rater name; new users get an unusable password until someone sets one."""
    user, created = UserModel.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user, created


def member_add_by_username(
    *, study: Study, username: str, role: str, actor: User | None = None
) -> tuple[StudyMembership, str | None]:
    """Add a member by username. A new username gets an account with a random password, returned
    once (to be passed on) and never stored in clear; None when the user already existed."""
    with transaction.atomic():
        user, password = UserModel.objects.filter(username=username).first(), None
        if user is None:
            password = secrets.token_urlsafe(9)
            user = UserModel.objects.create_user(username=username, password=password)
        membership = membership_add(study=study, user=user, role=role, actor=actor)
    return membership, password


@transaction.atomic
def membership_set_adjudicator(
    *, study: Study, user: User, allowed: bool, actor: User | None = None
) -> StudyMembership:
    """Let an owner or observer adjudicate. A rater cannot: adjudicators see everyone's scores."""
    membership = StudyMembership.objects.get(study=study, user=user)
    if allowed and not may_become_adjudicator(membership):
        raise StudyStateError(f"{user.username} is a rater of this study and cannot adjudicate it")
    if membership.can_adjudicate != allowed:
        audit_record(
            study=study,
            actor=actor,
            action=Action.ADJUDICATOR_CHANGE,
            target=user.username,
            details={"can_adjudicate": allowed},
        )
    membership.can_adjudicate = allowed
    membership.save(update_fields=["can_adjudicate"])
    return membership
