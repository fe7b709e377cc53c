"""The repairs over the API, for a coordinator's script: exclude and restore a case, remove and
replace a rater; each answers with what it did, or a clear 400/409, like the pages."""

from django.contrib.auth import get_user_model

from annotation.models import StudyMembership
from tests.api_support import API, api_client
from tests.repair_support import assert_balanced, read_some


def test_exclude_and_restore_a_case(make_study, personas):
    study = make_study(n_cases=3)
    owner = api_client(personas["alice"])
    case = study.cases.order_by("pk").first()
    url = f"{API}/studies/{study.slug}/cases/{case.public_id}/exclusion/"
    missing = owner.post(url, {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.content.decode()
    done = owner.post(url, {"reason": "lateral view"}, format="json")
    assert done.status_code == 200
    assert done.json()["excluded"] is True and done.json()["exclusion_reason"] == "lateral view"
    assert owner.post(url, {"reason": "again"}, format="json").status_code == 409
    restored = owner.delete(url)
    assert restored.status_code == 200 and restored.json()["excluded"] is False
    listed = owner.get(f"{API}/studies/{study.slug}/cases/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert all(row["excluded"] is False for row in rows)


def test_remove_and_replace_a_rater(make_study, personas):
    get_user_model().objects.create_user("rater4", password="x-long-enough-password")
    study = make_study(n_cases=8, raters_per_case=2)
    read_some(study, personas["rater1"], 2)
    owner = api_client(personas["alice"])
    member = StudyMembership.objects.get(study=study, user=personas["rater1"]).public_id

    unknown = owner.post(f"{API}/studies/{study.slug}/members/{member}/replacement/", {"new": "ghost"}, format="json")
    assert unknown.status_code == 400
    replaced = owner.post(f"{API}/studies/{study.slug}/members/{member}/replacement/", {"new": "rater4"}, format="json")
    assert replaced.status_code == 200, replaced.content
    body = replaced.json()
    assert body["removed"]["reads_done"] == 2 and body["removed"]["ratings_kept"] is True
    assert body["new_rater"]["username"] == "rater4" and body["moved"] >= body["removed"]["withdrawn"]
    assert_balanced(study)

    member2 = StudyMembership.objects.get(study=study, user=personas["rater2"]).public_id
    removed = owner.post(
        f"{API}/studies/{study.slug}/members/{member2}/removal/", {"keep_ratings": False}, format="json"
    )
    assert removed.status_code == 200 and removed.json()["ratings_kept"] is False
    again = owner.post(f"{API}/studies/{study.slug}/members/{member2}/removal/", {}, format="json")
    assert again.status_code == 409  # no longer a rater
    # "removed" is never a role one can give: only a removal makes it.
    patched = owner.patch(f"{API}/studies/{study.slug}/members/{member2}/", {"role": "removed"}, format="json")
    assert patched.status_code == 400
