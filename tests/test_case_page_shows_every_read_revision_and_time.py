"""The case page: the image in the viewer, every rater's current scores, their revisions with
reading times, flags, consensus and range, the adjudication and (owners) the model's pre-score."""

from annotation.models import Assignment
from annotation.services import assignment_flag, rater_remove, rating_submit
from tests.repair_support import VALUES


def test_owner_sees_every_read_with_its_revisions(make_study, client_for, personas):
    study = make_study(n_cases=2)
    case = study.cases.order_by("pk").first()
    one = Assignment.objects.get(case=case, rater=personas["rater1"])
    rating_submit(assignment=one, values=VALUES, reading_time_s=31.0)
    rating_submit(assignment=one, values={**VALUES, "extent_left": 4}, reading_time_s=7.0)
    two = Assignment.objects.get(case=case, rater=personas["rater2"])
    assignment_flag(assignment=two, reason="wrong_view", note="looks lateral")

    page = client_for("alice").get(f"/studies/{study.slug}/cases/{case.public_id}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert case.original_filename in html
    assert 'id="viewer"' in html and f"/studies/{study.slug}/cases/{case.public_id}/image.png" in html
    assert "rater1" in html and "rater2" in html and "rater3" in html
    assert "Left extent" in html or "extent" in html.lower()
    assert "2 revisions" in html and "31 s" in html and "7 s" in html
    assert "Wrong view" in html and "looks lateral" in html
    assert "to do" in html  # rater3 has not read it
    assert "Exclude" in html and "Remove from the study" not in html  # read already: it stays


def test_a_removed_raters_dropped_reads_are_marked(make_study, make_user, client_for, personas):
    make_user("rater4")
    study = make_study(n_cases=3, raters=("rater1", "rater2", "rater3"), raters_per_case=3)
    case = study.cases.order_by("pk").first()
    rating_submit(assignment=Assignment.objects.get(case=case, rater=personas["rater3"]), values=VALUES)
    rater_remove(study=study, user=personas["rater3"], keep_ratings=False, actor=None)
    html = client_for("alice").get(f"/studies/{study.slug}/cases/{case.public_id}/").content.decode()
    assert "removed, reads dropped" in html


def test_an_unread_case_can_be_removed_from_its_page(make_study, client_for):
    study = make_study(n_cases=2)
    case = study.cases.order_by("pk").first()
    html = client_for("alice").get(f"/studies/{study.slug}/cases/{case.public_id}/").content.decode()
    assert "Remove from the study" in html


def test_blind_adjudicator_sees_letters_not_names(make_study, client_for, personas):
    from annotation.services import membership_set_adjudicator

    study = make_study(n_cases=1)
    case = study.cases.get()
    rating_submit(assignment=Assignment.objects.get(case=case, rater=personas["rater1"]), values=VALUES)
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True)
    study.adjudication_blind = True
    study.save()
    html = client_for("olivia").get(f"/studies/{study.slug}/cases/{case.public_id}/").content.decode()
    assert "Rater A" in html
    for secret in ("rater1", "rater2", "rater3", case.original_filename, "Exclude"):
        assert secret not in html
