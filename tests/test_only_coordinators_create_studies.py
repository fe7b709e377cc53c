"""Only coordinators create studies. The attack this closes: a rater of an unaided study downloads the
images they were served, puts them in a study of their own, pre-scores it and reads the model's
scores of their own cases. Now the rater, and anyone who is not a coordinator, is refused (403) on
the page, the form and the API, learns nothing about which short names are taken, and the service
refuses too."""

import pytest
from django.core.management import call_command

from accounts.models import AccountEvent
from accounts.services import coordinator_set
from annotation.models import Assignment, Study
from annotation.services import study_create
from core.errors import NotAllowed
from tests.api_support import API, api_client, error_of


def test_the_rater_who_downloads_their_images_cannot_start_a_study_to_prescore_them(make_study, personas, client_for):
    study = make_study(n_cases=2)
    rater = client_for("rater1")
    mine = Assignment.objects.filter(study=study, rater=personas["rater1"]).first()
    image = rater.get(f"/read/{mine.public_id}/image.png")
    assert image.status_code == 200  # what they were served, and could keep

    assert "New study" not in rater.get("/").content.decode()
    refused = rater.get("/studies/new/")
    assert refused.status_code == 403 and "Only coordinators create studies" in refused.content.decode()
    form = {"title": "Mine", "slug": "mine", "rubric": "cohen2020", "raters_per_case": 1}
    assert rater.post("/studies/new/", form).status_code == 403
    answer = api_client(personas["rater1"]).post(f"{API}/studies/", form, format="json")
    assert answer.status_code == 403 and error_of(answer)["code"] == "permission_denied"
    assert list(Study.objects.values_list("slug", flat=True)) == [study.slug]
    with pytest.raises(NotAllowed):
        study_create(owner=personas["rater1"], slug="mine", title="Mine")


@pytest.mark.parametrize("slug", ["s1", "never-used"])
def test_a_refusal_says_nothing_about_which_slugs_are_taken(make_study, personas, client_for, slug):
    make_study(n_cases=0, open_it=False)  # "s1" is taken
    form = {"title": "x", "slug": slug, "rubric": "cohen2020", "raters_per_case": 3}
    page = client_for("oscar").post("/studies/new/", form)
    api = api_client(personas["oscar"]).post(f"{API}/studies/", form, format="json")
    assert page.status_code == api.status_code == 403
    assert "exist" not in page.content.decode() and "exist" not in api.content.decode()


def test_the_coordinator_command_gives_and_takes_the_right_and_says_so_on_the_trail(personas, client_for):
    call_command("coordinator", "oscar")
    assert client_for("oscar").get("/studies/new/").status_code == 200
    call_command("coordinator", "oscar", "--revoke")
    assert client_for("oscar").get("/studies/new/").status_code == 403
    trail = list(AccountEvent.objects.filter(target="oscar").values_list("action", flat=True).order_by("pk"))
    assert trail == ["coordinator_grant", "coordinator_revoke"]


def test_superusers_are_coordinators_and_inactive_accounts_are_not(personas, make_user, client_for):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root", password="x")
    study_create(owner=root, slug="by-root", title="By root")
    coordinator_set(user=personas["oscar"], allowed=True)
    personas["oscar"].is_active = False
    personas["oscar"].save()
    with pytest.raises(NotAllowed):
        study_create(owner=personas["oscar"], slug="by-oscar", title="x")
