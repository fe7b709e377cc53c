from django.contrib.auth import get_user_model

from annotation.models import Study, StudyMembership


def test_a_coordinator_creates_a_study_and_becomes_its_owner(personas, client_for):
    client = client_for("cora")
    response = client.post(
        "/studies/new/", {"title": "Pilot", "slug": "pilot", "rubric": "brixia", "raters_per_case": 2}
    )
    assert response["Location"] == "/studies/pilot/"
    study = Study.objects.get(slug="pilot")
    assert study.rubric == "brixia" and study.status == "draft"
    assert study.memberships.get(user=personas["cora"]).role == "owner"


def test_study_form_rejects_a_taken_slug(make_study, client_for):
    make_study(n_cases=0, open_it=False)
    response = client_for("cora").post(
        "/studies/new/", {"title": "x", "slug": "s1", "rubric": "cohen2020", "raters_per_case": 3}
    )
    assert response.status_code == 200 and "already exists" in response.content.decode()


def test_adding_an_unknown_username_invites_it_and_shows_the_link_once(make_study, client_for):
    study = make_study(n_cases=0, open_it=False)
    response = client_for("alice").post(f"/studies/{study.slug}/members/", {"username": "newrater", "role": "rater"})
    assert response.status_code == 200 and "/accounts/invitation/" in response.content.decode()
    assert "messages" not in response.cookies  # the link is in this page only, never in a cookie
    user = get_user_model().objects.get(username="newrater")
    assert not user.has_usable_password() and not user.is_active
    assert study.memberships.get(user=user).role == StudyMembership.Role.RATER


def test_opening_needs_enough_raters(make_study, client_for):
    study = make_study(n_cases=2, open_it=False, raters=("rater1",))
    response = client_for("alice").post(f"/studies/{study.slug}/open/", follow=True)
    assert "needs at least 3 raters" in response.content.decode()
    study.refresh_from_db()
    assert study.status == "draft" and study.assignments.count() == 0


def test_opening_assigns_and_locking_freezes(make_study, client_for):
    study = make_study(n_cases=2, open_it=False)
    client = client_for("alice")
    client.post(f"/studies/{study.slug}/open/")
    study.refresh_from_db()
    assert study.status == "open" and study.assignments.count() == 6
    client.post(f"/studies/{study.slug}/lock/")
    study.refresh_from_db()
    assert study.status == "locked" and study.locked_at is not None


def test_rubric_cannot_change_once_open(make_study, client_for):
    study = make_study(n_cases=1)
    response = client_for("alice").post(
        f"/studies/{study.slug}/settings/",
        {
            "title": "Renamed",
            "rubric": "brixia",
            "raters_per_case": 3,
            "consensus_method": "mean",
            "adjudication_range": 3,
            "model_assistance": "none",
            "crossover_gap": 5,
        },
        follow=True,
    )
    # The rubric field is read-only once open (its reason shown): the rubric stays, the title changes.
    assert "Fixed once the study opened" in response.content.decode()
    study.refresh_from_db()
    assert (study.rubric, study.title) == ("cohen2020", "Renamed")


def test_only_owners_change_a_study(make_study, client_for):
    study = make_study(n_cases=1, open_it=False)
    for name in ("rater1", "olivia", "oscar"):
        client = client_for(name)
        for action in ("open", "lock", "settings", "members", "upload", "ratings/import"):
            assert client.post(f"/studies/{study.slug}/{action}/", {}).status_code == 404, (name, action)
    study.refresh_from_db()
    assert study.status == "draft"


def test_owner_exports_ratings_and_scores_as_csv(make_study, client_for):
    study = make_study(n_cases=1)
    client = client_for("alice")
    response = client.get(f"/studies/{study.slug}/export/scores.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode().splitlines()[0] == (
        "filename,geographic_mean,opacity_mean,geographic_final,opacity_final,final_source"
    )
    response = client.get(f"/studies/{study.slug}/export/ratings.csv")
    assert response.content.decode().startswith("image,case_id,rater,status,revision,extent_right")
