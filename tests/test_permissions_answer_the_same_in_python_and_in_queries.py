"""annotation/permissions.py states each role rule once and renders it twice: `may` for a membership
in hand, `memberships_that_may` as a query filter. Both give the same answer for every role, with
and without the adjudicator right, and the table in the module's docstring is the one enforced."""

import pytest

from accounts.services import coordinator_set
from annotation.models import StudyMembership
from annotation.permissions import Ability, may, memberships_that_may
from annotation.services import study_create

Role = StudyMembership.Role

# The docstring's table: role (and adjudicator right) -> abilities.
EXPECTED = {
    (Role.OWNER, False): {Ability.VIEW_STUDY, Ability.MANAGE_STUDY, Ability.READ_CASES, Ability.MODEL_OUTPUT},
    (Role.OWNER, True): {Ability.VIEW_STUDY, Ability.MANAGE_STUDY, Ability.READ_CASES, Ability.MODEL_OUTPUT,
                         Ability.ADJUDICATE},
    (Role.OBSERVER, False): {Ability.VIEW_STUDY},
    (Role.OBSERVER, True): {Ability.VIEW_STUDY, Ability.READ_CASES, Ability.ADJUDICATE},
    (Role.RATER, False): {Ability.RATE},
    (Role.RATER, True): {Ability.RATE},  # a right that services never grant a rater: it changes nothing
}  # fmt: skip


@pytest.fixture
def memberships(make_user):
    owner = make_user("owner")
    coordinator_set(user=owner, allowed=True)
    study = study_create(owner=owner, slug="perm", title="Permissions")
    StudyMembership.objects.filter(study=study).delete()
    rows = {}
    for i, (role, adjudicates) in enumerate(EXPECTED):
        user = make_user(f"u{i}")
        rows[(role, adjudicates)] = StudyMembership.objects.create(
            study=study, user=user, role=role, can_adjudicate=adjudicates
        )
    return rows


def test_may_follows_the_table(memberships):
    for key, membership in memberships.items():
        assert {ability for ability in Ability if may(membership, ability)} == EXPECTED[key], key


def test_the_query_selects_exactly_the_memberships_that_may(memberships):
    for ability in Ability:
        selected = set(StudyMembership.objects.filter(memberships_that_may(ability)).values_list("pk", flat=True))
        assert selected == {m.pk for m in memberships.values() if may(m, ability)}, ability


def test_nobody_without_a_membership_may_anything():
    assert not any(may(None, ability) for ability in Ability)
