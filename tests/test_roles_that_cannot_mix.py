"""A rater reads blind, so nobody who has read the raters' scores becomes one: an adjudicator (now or
before, with or without the right taken back) and an owner of an open study are refused, on the
page and the API. A name such as "$$" can no longer be given; one already in the database (made in
the admin before) does not break the report's figures."""

import numpy as np
import pytest

from annotation.models import StudyMembership
from annotation.services import StudyStateError, membership_add, membership_set_adjudicator, study_create
from scoring.plots import bland_altman_svg, distribution_svg, kappa_heatmap_svg, pairwise_scatter_svg
from tests.api_support import API, api_client


@pytest.fixture
def study(make_study):
    return make_study(n_cases=2)


def _member(study, user) -> StudyMembership:
    return study.memberships.get(user=user)


def test_an_adjudicator_cannot_become_a_rater_even_after_losing_the_right(study, personas, client_for):
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True)
    with pytest.raises(StudyStateError, match="adjudicator"):
        membership_add(study=study, user=personas["olivia"], role="rater")
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=False)
    with pytest.raises(StudyStateError, match="adjudicator"):
        membership_add(study=study, user=personas["olivia"], role="rater")
    page = client_for("alice").post(
        f"/studies/{study.slug}/members/", {"username": "olivia", "role": "rater"}, follow=True
    )
    assert "has been an adjudicator" in page.content.decode()
    member_id = _member(study, personas["olivia"]).public_id
    api = api_client(personas["alice"]).patch(f"{API}/studies/{study.slug}/members/{member_id}/", {"role": "rater"},
                                              format="json")  # fmt: skip
    assert api.status_code == 409
    assert _member(study, personas["olivia"]).role == "observer"


def test_an_owner_becomes_a_rater_only_while_the_study_is_a_draft(personas):
    draft = study_create(owner=personas["alice"], slug="draft", title="Draft")
    membership_add(study=draft, user=personas["cora"], role="owner")
    assert membership_add(study=draft, user=personas["cora"], role="rater").role == "rater"
    with pytest.raises(StudyStateError, match="owns this study, which is open"):
        opened = study_create(owner=personas["alice"], slug="opened", title="Opened")
        for name in ("rater1", "rater2", "rater3"):
            membership_add(study=opened, user=personas[name], role="rater")
        from annotation.services import study_open

        study_open(study=opened)
        membership_add(study=opened, user=personas["alice"], role="rater")


def test_an_observer_who_never_adjudicated_may_become_a_rater(study, personas):
    assert membership_add(study=study, user=personas["olivia"], role="rater").role == "rater"


def test_figures_take_any_rater_name_as_plain_text():
    matrix = np.array([[1, 2], [3, 3], [4, 2], [0, 1]], dtype=float)
    for svg in (
        bland_altman_svg(matrix, ["$$", "a$b"], "Geographic extent"),
        pairwise_scatter_svg(matrix, ["$$", "a$b"], "Geographic extent", (0, 8)),
        distribution_svg(matrix, ["$$", "a$b"], "Geographic extent", (0, 8)),
        kappa_heatmap_svg([{"raters": ["$$", "a$b"], "value": 0.5}], ["$$", "a$b"], "Geographic extent"),
    ):
        assert svg.startswith("<svg") and "$$" in svg
