"""Everyone changes their own password, and resets a forgotten one by e-mail: Django's views under
/accounts/, in the site's style. A reset link works once; opening it writes nothing; the answer to a
reset request is the same whether the address is known or not."""

import re

from django.core import mail
from django.test import Client

from accounts.models import AccountEvent
from tests.conftest import PASSWORD

RESET_LINK = re.compile(r"https?://[^\s]+/accounts/password/reset/[^\s]+/[^\s]+/")
NEW = "a brand new passphrase 7"


def test_a_rater_changes_their_password_and_stays_logged_in(personas, client_for):
    client = client_for("rater1")
    refused = client.post("/accounts/password/change/", {"old_password": "wrong", "new_password1": NEW,
                                                          "new_password2": NEW})  # fmt: skip
    assert refused.status_code == 200 and "incorrect" in refused.content.decode()
    changed = client.post(
        "/accounts/password/change/", {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    )
    assert changed["Location"] == "/accounts/password/change/done/"
    assert client.get("/").status_code == 200  # still in
    personas["rater1"].refresh_from_db()
    assert personas["rater1"].check_password(NEW)
    assert AccountEvent.objects.filter(action="password_change", target="rater1").count() == 1


def test_a_forgotten_password_is_reset_by_e_mail_once(personas):
    personas["rater1"].email = "rater1@example.org"
    personas["rater1"].save()
    known = Client().post("/accounts/password/reset/", {"email": "rater1@example.org"})
    unknown = Client().post("/accounts/password/reset/", {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 302 and known["Location"] == unknown["Location"]
    assert [m.to for m in mail.outbox] == [["rater1@example.org"]]
    link = RESET_LINK.search(mail.outbox[0].body)[0]

    client = Client()
    assert "Choose a new password for rater1" in client.get(link).content.decode()
    assert client.post(link, {"new_password1": NEW, "new_password2": NEW})["Location"] == "/accounts/login/"
    personas["rater1"].refresh_from_db()
    assert personas["rater1"].check_password(NEW)
    assert (
        Client().post(link, {"new_password1": "x another one 9", "new_password2": "x another one 9"}).status_code == 404
    )
    assert AccountEvent.objects.filter(action="password_reset", target="rater1").count() == 1


def test_the_pages_are_linked_from_the_login_and_profile_pages(personas, client_for):
    assert "/accounts/password/reset/" in Client().get("/accounts/login/").content.decode()
    assert "/accounts/password/change/" in client_for("rater1").get("/accounts/profile/").content.decode()
