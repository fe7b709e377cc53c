"""In a study with repeat reads a rater cannot reopen a read once done, on the pages or the API:
else they could look up their first scores of a case before reading it again. Every done read is
closed, not only the repeated ones (which cases come back stays unannounced); a retried save still
finds its revision; once the study is locked the reads are the rater's to look at again."""

from annotation.models import Assignment
from annotation.services import study_lock
from reading.selectors import assignment_next_for_rater
from tests.conftest import COHEN_VALUES, open_repeat_study

FORM = {f"{key}": str(value) for key, value in COHEN_VALUES.items()}


def _study(make_study, *, fraction: float, slug: str = "s1"):
    return open_repeat_study(make_study, fraction=fraction, days=0, cases=1, n_cases=6, slug=slug)


def _save_next(client, study, user) -> Assignment:
    public_id = assignment_next_for_rater(user=user, study=study)
    response = client.post(f"/read/{public_id}/", {**FORM, "client_key": "k-" + public_id})
    assert response.status_code == 302
    return Assignment.objects.get(public_id=public_id)


def test_a_done_read_is_closed_on_every_page_and_endpoint(make_study, personas, client_for):
    study = _study(make_study, fraction=0.5)
    rater, client = personas["rater1"], client_for("rater1")
    done = _save_next(client, study, rater)
    pending = assignment_next_for_rater(user=rater, study=study)

    assert client.get(f"/read/{done.public_id}/").status_code == 404
    for path in ("", "ratings/", "image.png"):  # each answers for a read still open
        assert client.get(f"/api/v1/assignments/{pending}/{path}").status_code == 200, path
        assert client.get(f"/api/v1/assignments/{done.public_id}/{path}").status_code == 404, path
    page = client.get(f"/read/{pending}/").content.decode()
    assert f"/read/{done.public_id}/" not in page  # no Previous link back to it
    assert "cannot be reopened once saved" in page and "repeat" not in page.lower()

    cases = client.get(f"/studies/{study.slug}/my-cases/").content.decode()
    assert f"/read/{done.public_id}/" not in cases and f"/read/{pending}/" in cases
    assert "Case 1" in cases and "cannot be reopened" in cases
    mine = client.get(f"/api/v1/studies/{study.slug}/queue/mine/").json()["results"]
    row = next(r for r in mine if r["id"] == done.public_id)
    assert row["state"] == "scored" and row["values"] is None and row["totals"] is None
    assert "cannot be reopened" in client.get(f"/studies/{study.slug}/done/").content.decode()


def test_a_retried_save_and_a_flag_still_get_their_answer(make_study, personas, client_for):
    study = _study(make_study, fraction=0.5)
    rater, client = personas["rater2"], client_for("rater2")
    public_id = assignment_next_for_rater(user=rater, study=study)
    url = f"/api/v1/assignments/{public_id}/ratings/"
    body = {"values": COHEN_VALUES}
    first = client.post(url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="once")
    again = client.post(url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="once")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["revision"] == first.json()["revision"] == 1

    other = assignment_next_for_rater(user=rater, study=study)
    flagged = client.post(
        f"/api/v1/assignments/{other}/flag/", {"reason": "not_chest"}, content_type="application/json"
    )
    assert flagged.status_code == 200 and flagged.json()["flag_reason"] == "not_chest"
    assert client.get(f"/api/v1/assignments/{other}/").status_code == 404


def test_without_repeat_reads_or_once_locked_done_reads_open_as_before(make_study, personas, client_for):
    plain = _study(make_study, fraction=0.0)
    done = _save_next(client_for("rater1"), plain, personas["rater1"])
    page = client_for("rater1").get(f"/read/{done.public_id}/")
    assert page.status_code == 200 and "cannot be reopened" not in page.content.decode()

    study = _study(make_study, fraction=0.5, slug="s2")
    done = _save_next(client_for("rater1"), study, personas["rater1"])
    assert client_for("rater1").get(f"/read/{done.public_id}/").status_code == 404
    study_lock(study=study)
    assert client_for("rater1").get(f"/read/{done.public_id}/").status_code == 200
