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

READ_CASES is reading filenames, metadata and each rater's scores. A rater sees model output only in
an aided read of their own (reading/selectors.py); an adjudicator is never a rater of the same
study, since adjudicators read everyone's scores.
"""

import enum
from dataclasses import dataclass

from django.db.models import Q
from django.http import Http404

from annotation.models import Study, StudyMembership
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


def membership_get(*, user: Visitor, study: Study | int) -> StudyMembership | None:
    if not user.is_authenticated:
        return None
    study_id = study if isinstance(study, int) else study.pk
    return StudyMembership.objects.filter(user=user, study_id=study_id).first()


def study_access_get(*, user: Visitor, slug: str, ability: Ability) -> StudyAccess:
    """The study and the user's membership, if the user may do `ability` there; else 404."""
    if not user.is_authenticated:
        raise Http404("no such study")
    membership = StudyMembership.objects.select_related("study").filter(user=user, study__slug=slug).first()
    if not may(membership, ability):
        raise Http404("no such study")
    return StudyAccess(membership.study, membership)


def may_become_adjudicator(membership: StudyMembership) -> bool:
    # Adjudicators read every rater's scores: a rater of the same study never may.
    return membership.role != Role.RATER


def may_stop_rating(membership: StudyMembership, *, has_cases: bool) -> bool:
    # A rater with cases assigned stays a rater: their reads are part of the study's design.
    return membership.role != Role.RATER or not has_cases
