from annotation.models import Assignment, Rating
from tests.conftest import COHEN_VALUES


def _queue(study, user):
    return list(Assignment.objects.filter(study=study, rater=user).order_by("order_key"))


def test_rater_scores_in_own_order_and_is_sent_to_the_next_case(make_study, personas, client_for):
    study = make_study(n_cases=3)
    client = client_for("rater1")
    queue = _queue(study, personas["rater1"])
    response = client.get(f"/studies/{study.slug}/read/")
    assert response["Location"] == f"/read/{queue[0].public_id}/"
    page = client.get(response["Location"]).content.decode()
    assert "Case 1 of 3" in page and "Geographic extent, right lung" in page and "More than 75% involvement" in page

    response = client.post(f"/read/{queue[0].public_id}/", {**COHEN_VALUES, "reading_time_s": "7.25"})
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"] == f"/read/{queue[1].public_id}/"
    rating = Rating.objects.get(assignment=queue[0])
    assert rating.reading_time_s == 7.25 and rating.source == "web"


def test_half_filled_form_is_refused_with_a_clear_error_and_keeps_the_choices(make_study, personas, client_for):
    study = make_study(n_cases=1)
    assignment = _queue(study, personas["rater1"])[0]
    response = client_for("rater1").post(f"/read/{assignment.public_id}/", {"extent_right": "2", "extent_left": "1"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "a value is required" in body
    assert 'name="extent_right" value="2" checked' in body
    assert Rating.objects.count() == 0


def test_totals_are_derived_on_the_server_not_taken_from_the_client(make_study, personas, client_for):
    study = make_study(n_cases=1)
    assignment = _queue(study, personas["rater1"])[0]
    client_for("rater1").post(
        f"/read/{assignment.public_id}/", {**COHEN_VALUES, "geographic_extent": "0", "opacity": "99"}
    )
    assert Rating.objects.get().totals == {"geographic_extent": 5, "opacity": 3}


def test_resume_after_logout_goes_to_the_first_case_not_done(make_study, personas, client_for):
    study = make_study(n_cases=3)
    queue = _queue(study, personas["rater1"])
    client = client_for("rater1")
    client.post(f"/read/{queue[0].public_id}/", COHEN_VALUES)
    client.logout()
    client = client_for("rater1")
    assert client.get(f"/studies/{study.slug}/read/")["Location"] == f"/read/{queue[1].public_id}/"


def test_going_back_shows_own_scores_and_saving_adds_a_revision(make_study, personas, client_for):
    study = make_study(n_cases=2)
    queue = _queue(study, personas["rater1"])
    client = client_for("rater1")
    client.post(f"/read/{queue[0].public_id}/", COHEN_VALUES)
    page = client.get(f"/read/{queue[1].public_id}/").content.decode()
    assert f'/read/{queue[0].public_id}/"' in page  # the "Previous" link
    page = client.get(f"/read/{queue[0].public_id}/").content.decode()
    assert 'name="extent_left" value="3" checked' in page and "1 revision" in page
    client.post(f"/read/{queue[0].public_id}/", {**COHEN_VALUES, "extent_left": "0"})
    queue[0].refresh_from_db()
    assert queue[0].ratings.count() == 2 and queue[0].current_rating.values["extent_left"] == 0


def test_flag_then_done_page_when_everything_is_done(make_study, personas, client_for):
    study = make_study(n_cases=2)
    queue = _queue(study, personas["rater1"])
    client = client_for("rater1")
    client.post(f"/read/{queue[0].public_id}/", COHEN_VALUES)
    response = client.post(f"/read/{queue[1].public_id}/flag/", {"reason": "wrong_view", "note": "lateral"})
    assert response.status_code == 302
    assert client.get(f"/studies/{study.slug}/read/")["Location"] == f"/studies/{study.slug}/done/"
    assert "You have completed 2 of 2 cases" in client.get(f"/studies/{study.slug}/done/").content.decode()
    # The owner sees the flag with its reason.
    body = client_for("alice").get(f"/studies/{study.slug}/").content.decode()
    assert "Wrong view" in body and "lateral" in body


def test_rale_density_is_required_only_when_extent_is_positive(make_study, personas, client_for):
    study = make_study(n_cases=1, rubric="rale")
    assignment = _queue(study, personas["rater1"])[0]
    client = client_for("rater1")
    values = {
        "ru_extent": "2",
        "ru_density": "3",
        "rl_extent": "0",
        "lu_extent": "1",
        "lu_density": "1",
        "ll_extent": "0",
    }
    assert client.post(f"/read/{assignment.public_id}/", values).status_code == 302
    assert Rating.objects.get().totals == {"rale": 7}
    bad = {**values, "rl_density": "2"}
    response = client.post(f"/read/{assignment.public_id}/", bad)
    assert response.status_code == 400 and "must be empty" in response.content.decode()
