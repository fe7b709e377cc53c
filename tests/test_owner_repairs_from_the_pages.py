"""The repairs as an owner makes them in the browser: exclude and restore on the case page, remove
and replace a rater in the members list; each answers with what it did, or why it did nothing."""

from annotation.models import AuditEvent, StudyMembership


def test_exclude_and_restore_from_the_case_page(make_study, client_for):
    study = make_study(n_cases=2)
    case = study.cases.order_by("pk").first()
    owner = client_for("alice")
    url = f"/studies/{study.slug}/cases/{case.public_id}/"
    refused = owner.post(url + "exclude/", {"reason": "  "}, follow=True)
    assert "was not excluded: say why" in refused.content.decode()
    case.refresh_from_db()
    assert case.excluded_at is None

    done = owner.post(url + "exclude/", {"reason": "lateral view"}, follow=True).content.decode()
    assert "excluded from the analyses" in done and "lateral view" in done
    assert "Restore to the analyses" in done
    back = owner.post(url + "restore/", follow=True).content.decode()
    assert "back in the analyses" in back


def test_remove_and_replace_a_rater_from_the_study_page(make_study, make_user, client_for, personas):
    make_user("rater4")
    study = make_study(n_cases=6)
    owner = client_for("alice")
    member = StudyMembership.objects.get(study=study, user=personas["rater3"]).public_id
    page = owner.get(f"/studies/{study.slug}/").content.decode()
    assert f"/studies/{study.slug}/members/{member}/replace/" in page

    unknown = owner.post(f"/studies/{study.slug}/members/{member}/replace/", {"new": "ghost"}, follow=True)
    assert "nobody is called" in unknown.content.decode()
    replaced = owner.post(f"/studies/{study.slug}/members/{member}/replace/", {"new": "rater4"}, follow=True)
    assert "rater4 replaces rater3: 6 read(s) given to rater4" in replaced.content.decode()
    assert StudyMembership.objects.get(study=study, user=personas["rater3"]).role == "removed"

    member2 = StudyMembership.objects.get(study=study, user=personas["rater2"]).public_id
    removed = owner.post(f"/studies/{study.slug}/members/{member2}/remove/", {"keep": "1"}, follow=True)
    assert "rater2 is removed" in removed.content.decode() and "kept in the analysis" in removed.content.decode()
    actions = set(AuditEvent.objects.filter(study=study).values_list("action", flat=True))
    assert {"rater_replace", "rater_remove"} <= actions
