"""Who may see or do what in a study: every role rule of the platform, in one place.

Pages, API views, selectors and services all ask this module; nothing else compares roles. A
study someone may not reach is a 404, never a 403: an outsider must not learn that it exists.

The roles (StudyMembership.Role) and what each may do:

| ability        | owner | observer          | rater | outsider |
|----------------|-------|-------------------|-------|----------|
| VIEW_STUDY     | yes   | yes               | -     | -        |
| MANAGE_STUDY   | yes   | -                 | -     | -        |
| READ_CASES     | yes   | if adjudicator    | -     | -        |
| ADJUDICATE     | if adjudicator | if adjudicator | never | -     |
| MODEL_OUTPUT   | yes   | -                 | -     | -        |
| RATE           | -     | -                 | yes   | -        |

A removed rater (Role.REMOVED) may do nothing: the study is a 404 to them, as to an outsider. Their
reads stay on record, in the analysis only if the owner kept them (annotation/services/repairs.py).

Above the studies, one site role: a coordinator (the `accounts.coordinate` permission; superusers)
creates studies and invites people who have no account yet (`may_create_studies`,
`may_invite_accounts`). Everyone else only joins studies they are added to.

READ_CASES is reading filenames, metadata and each rater's scores. A rater sees model output only in
an aided read of their own (reading/selectors.py); an adjudicator is never a rater of the same
study, since adjudicators read everyone's scores.
"""

import enum
from dataclasses import dataclass

from django.db.models import Q
from django.http import Http404

from accounts.selectors import user_is_coordinator
from annotation.models import Study, StudyMembership
from core.prepared import PreparedRead
from core.types import Visitor

Role = StudyMembership.Role


class Ability(enum.Enum):
    VIEW_STUDY = "view the study's settings, progress and agreement report"
    MANAGE_STUDY = "change the study: settings, members, images, exports, audit trail"
    READ_CASES = "read filenames, metadata and each rater's scores"
    ADJUDICATE = "record a final score for a case"
    MODEL_OUTPUT = "read model versions, predictions and saliency maps"
    RATE = "score one's own cases in the reading room"


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    # Of those roles, the ones that also need the adjudicator right.
    only_adjudicators: frozenset[str] = frozenset()

    def allows(self, membership: StudyMembership | None) -> bool:
        if membership is None or membership.role not in self.roles:
            return False
        return membership.role not in self.only_adjudicators or membership.can_adjudicate

    def q(self, prefix: str = "") -> Q:
        """The same rule as a filter on memberships (prefix: the path to the membership, with "__")."""
        plain = self.roles - self.only_adjudicators
        condition = Q(**{f"{prefix}role__in": sorted(plain)})
        if self.only_adjudicators:
            condition |= Q(**{f"{prefix}role__in": sorted(self.only_adjudicators), f"{prefix}can_adjudicate": True})
        return condition


RULES: dict[Ability, Rule] = {
    Ability.VIEW_STUDY: Rule(frozenset({Role.OWNER, Role.OBSERVER})),
    Ability.MANAGE_STUDY: Rule(frozenset({Role.OWNER})),
    Ability.READ_CASES: Rule(frozenset({Role.OWNER, Role.OBSERVER}), only_adjudicators=frozenset({Role.OBSERVER})),
    Ability.ADJUDICATE: Rule(
        frozenset({Role.OWNER, Role.OBSERVER}), only_adjudicators=frozenset({Role.OWNER, Role.OBSERVER})
    ),
    Ability.MODEL_OUTPUT: Rule(frozenset({Role.OWNER})),
    Ability.RATE: Rule(frozenset({Role.RATER})),
}


def may(membership: StudyMembership | None, ability: Ability) -> bool:
    return RULES[ability].allows(membership)


def memberships_that_may(ability: Ability, *, prefix: str = "") -> Q:
    return RULES[ability].q(prefix)


@dataclass(frozen=True)
class StudyAccess:
    """A study as one member reaches it: what they may do there is asked of `may`."""

    study: Study
    membership: StudyMembership

    def may(self, ability: Ability) -> bool:
        return may(self.membership, ability)


def reads_cases_blind(access: StudyAccess) -> bool:
    """In a blind-adjudication study, whoever reads cases without running the study (an observer
    who adjudicates) knows a case by its id and a rater by a letter: no filename, no username, on
    the case browser, the report's queue, the consensus and the API alike. The adjudication page
    itself is blind for everyone, owners included (scoring.selectors.case_adjudication_sheet)."""
    return access.study.adjudication_blind and not access.may(Ability.MANAGE_STUDY)


def membership_get(*, user: Visitor, study: Study | int) -> StudyMembership | None:
    if not user.is_authenticated:
        return None
    study_id = study if isinstance(study, int) else study.pk
    return _MEMBERSHIP.first(user_id=user.pk, study_id=study_id)


# Every request in a study asks one of these: their SQL is written once a process (core.prepared).
_MEMBERSHIP = PreparedRead(
    lambda shape, *, user_id, study_id: StudyMembership.objects.filter(user_id=user_id, study_id=study_id),
    values=("user_id", "study_id"),
)
_ACCESS = PreparedRead(
    lambda shape, *, user_id, slug: StudyMembership.objects.select_related("study").filter(
        user_id=user_id, study__slug=slug
    ),
    values=("user_id",),
    texts=("slug",),
)


def study_access_get(*, user: Visitor, slug: str, ability: Ability) -> StudyAccess:
    """The study and the user's membership, if the user may do `ability` there; else 404."""
    if not user.is_authenticated:
        raise Http404("no such study")
    membership = _ACCESS.first(user_id=user.pk, slug=slug)
    if not may(membership, ability):
        raise Http404("no such study")
    return StudyAccess(membership.study, membership)


# The roles a member may be given or changed to: "removed" comes only from removing a rater
# (annotation/services/repairs.py), which also hands their unread cases to the others.
GIVEN_ROLES = [(role.value, role.label) for role in Role if role != Role.REMOVED]


def may_become_adjudicator(membership: StudyMembership) -> bool:
    # Adjudicators read every rater's scores: a rater of the same study never may.
    return membership.role != Role.RATER


def may_stop_rating(membership: StudyMembership, *, has_cases: bool) -> bool:
    # A rater with cases assigned stays a rater: their reads are part of the study's design.
    return membership.role != Role.RATER or not has_cases


def may_create_studies(user: Visitor) -> bool:
    return user_is_coordinator(user=user)


def may_invite_accounts(user: Visitor | None) -> bool:
    """Making an account for a name nobody has yet: a coordinator's act (or the command line's,
    user None), so that no study member can squat a future colleague's username."""
    return user is None or user_is_coordinator(user=user)


def rater_refusal(membership: StudyMembership, *, study: Study, has_adjudicated: bool) -> str | None:
    """Why this member may not become a rater of the study, or None. A rater reads blind: nobody who
    has read other raters' scores (an adjudicator, now or before) may rate, nor an owner once raters
    have started."""
    name = membership.user.get_username()
    if membership.was_adjudicator or membership.can_adjudicate or has_adjudicated:
        return f"{name} has been an adjudicator of this study (and read every rater's scores): not a rater"
    if membership.role == Role.OWNER and study.status != Study.Status.DRAFT:
        return f"{name} owns this study, which is open: an owner cannot become its rater"
    return None
