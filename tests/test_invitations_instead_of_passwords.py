"""Adding someone new invites them: an inactive account without a password and a single-use,
expiring link to set one, e-mailed and shown once to the coordinator. No answer, message or cookie
carries a password. The squatter (a member who is not a coordinator) cannot make a future
colleague's account, and the answer to "add member" has one shape whether the name existed or not."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import Client

from accounts.models import AccountEvent
from annotation.services import membership_add
from tests.api_support import API, api_client, error_of

User = get_user_model()
LINK = re.compile(r"https?://[^\s\"<]+/accounts/invitation/[^\s\"<]+/")


def _login(username: str, password: str):
    return Client().post("/accounts/login/", {"username": username, "password": password})


@pytest.fixture
def study(make_study):
    return make_study(n_cases=0, open_it=False)


def test_a_coordinator_invites_by_e_mail_and_the_new_account_sets_its_own_password(study, client_for):
    page = client_for("alice").post(
        f"/studies/{study.slug}/members/", {"username": "dr.new@example.org", "role": "rater"}
    )
    link = LINK.search(page.content.decode())[0]
    user = User.objects.get(username="dr.new@example.org")
    assert user.email == "dr.new@example.org" and not user.is_active and not user.has_usable_password()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["dr.new@example.org"] and link in mail.outbox[0].body
    assert "messages" not in page.cookies  # the link travels in this page only

    assert _login(user.username, "anything at all").status_code == 200  # the form again: no way in
    newcomer = Client()
    form = newcomer.get(link)
    assert form.status_code == 200 and "set your password" in form.content.decode()
    new_password = "a fresh and long passphrase"
    done = newcomer.post(link, {"new_password1": new_password, "new_password2": new_password})
    assert done.status_code == 302 and done["Location"] == "/accounts/login/"
    user.refresh_from_db()
    assert user.is_active and user.check_password(new_password)
    assert _login(user.username, new_password).status_code == 302
    again = Client().post(link, {"new_password1": "another passphrase 42", "new_password2": "another passphrase 42"})
    assert again.status_code == 404  # single use: the new password invalidated the link
    trail = list(AccountEvent.objects.filter(target=user.username).values_list("action", flat=True).order_by("pk"))
    assert trail == ["invitation", "invitation_accepted"]


def test_an_expired_link_does_not_work(study, client_for, settings, monkeypatch):
    page = client_for("alice").post(f"/studies/{study.slug}/members/", {"username": "late", "role": "rater"})
    link = LINK.search(page.content.decode())[0]
    later = default_token_generator._now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)
    monkeypatch.setattr(default_token_generator, "_now", lambda: later)
    assert Client().get(link).status_code == 404


def test_the_squatter_cannot_make_a_future_colleagues_account(study, personas, client_for):
    # oscar owns a study (a coordinator made him co-owner) but is no coordinator himself.
    membership_add(study=study, user=personas["oscar"], role="owner")
    squatter = client_for("oscar")
    answer = squatter.post(f"/studies/{study.slug}/members/", {"username": "dr-future", "role": "rater"}, follow=True)
    assert "only a coordinator can invite someone new" in answer.content.decode()
    api = api_client(personas["oscar"]).post(
        f"{API}/studies/{study.slug}/members/", {"username": "dr-future", "role": "rater"}, format="json"
    )
    assert api.status_code == 403 and error_of(api)["code"] == "permission_denied"
    assert not User.objects.filter(username="dr-future").exists()
    # Existing accounts he may add, as owners do.
    assert squatter.post(f"/studies/{study.slug}/members/", {"username": "rater1", "role": "rater"}).status_code == 302


def test_the_answer_has_one_shape_and_never_a_password(study, personas):
    alice = api_client(personas["alice"])
    new = alice.post(f"{API}/studies/{study.slug}/members/", {"username": "brand-new", "role": "rater"}, format="json")
    old = alice.post(f"{API}/studies/{study.slug}/members/", {"username": "oscar", "role": "rater"}, format="json")
    assert new.status_code == old.status_code == 201
    assert set(new.json()) == set(old.json()) == {"id", "username", "role", "can_adjudicate", "created_at"}
    for answer in (new, old):
        assert "password" not in answer.content.decode().lower() and "invitation" not in answer.content.decode()


def test_an_existing_account_is_added_and_told_by_e_mail(study, personas, client_for):
    personas["oscar"].email = "oscar@example.org"
    personas["oscar"].save()
    client_for("alice").post(f"/studies/{study.slug}/members/", {"username": "oscar@example.org", "role": "observer"})
    assert study.memberships.get(user=personas["oscar"]).role == "observer"
    assert [m.to for m in mail.outbox] == [["oscar@example.org"]]
    assert "observer of the study" in mail.outbox[0].body and "/accounts/" not in mail.outbox[0].body


def test_a_lost_invitation_is_renewed_by_a_coordinator_only(study, personas, client_for):
    alice = api_client(personas["alice"])
    member = alice.post(f"{API}/studies/{study.slug}/members/", {"username": "lost", "role": "rater"}, format="json")
    member_id = member.json()["id"]
    renewed = alice.post(f"{API}/studies/{study.slug}/members/{member_id}/invitation/")
    assert renewed.status_code == 201 and "/accounts/invitation/" in renewed.json()["url"]
    assert Client().get(renewed.json()["url"]).status_code == 200
    membership_add(study=study, user=personas["oscar"], role="owner")
    refused = api_client(personas["oscar"]).post(f"{API}/studies/{study.slug}/members/{member_id}/invitation/")
    assert refused.status_code == 403
    olivia = study.memberships.get(user=personas["olivia"]).public_id
    has_password = alice.post(f"{API}/studies/{study.slug}/members/{olivia}/invitation/")
    assert has_password.status_code == 409  # nobody can take over an account that is in use


def test_the_member_form_the_api_and_the_commands_refuse_the_same_names(study, personas, client_for):
    for name in ("$$", "two words", "x" * 151, "not@an-address"):
        page = client_for("alice").post(
            f"/studies/{study.slug}/members/", {"username": name, "role": "rater"}, follow=True
        )
        assert "Member not added" in page.content.decode(), name
        api = api_client(personas["alice"]).post(
            f"{API}/studies/{study.slug}/members/", {"username": name, "role": "rater"}, format="json"
        )
        assert api.status_code == 400, name
    assert not User.objects.filter(username__in=["$$", "two words", "not@an-address"]).exists()
