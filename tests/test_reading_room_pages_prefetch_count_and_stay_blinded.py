"""The reading room's server side: what the page links to, counts and accepts (the browser flow is
tests/test_reading_room_in_a_real_browser.py)."""

import re

from annotation.csv_io import ratings_csv_import
from annotation.models import Assignment, Rating, Study
from annotation.services import assignment_flag, rating_submit, study_lock
from tests.conftest import COHEN_VALUES


def _queue(study, user) -> list[Assignment]:
    return list(Assignment.objects.filter(study=study, rater=user, case__image__isnull=False).order_by("order_key"))


def _page(client, assignment) -> str:
    response = client.get(f"/read/{assignment.public_id}/")
    assert response.status_code == 200
    return response.content.decode()


def test_page_prefetches_the_raters_own_next_case_not_done(make_study, personas, client_for):
    study = make_study(n_cases=4)
    queue = _queue(study, personas["rater1"])
    rating_submit(assignment=queue[1], values=COHEN_VALUES)
    body = _page(client_for("rater1"), queue[0])
    # Save and next from case 1 leads to case 3 (case 2 is done): its image is the one to prefetch.
    assert f'data-upcoming-image="/read/{queue[2].public_id}/image.png"' in body
    assert client_for("rater1").get(f"/read/{queue[2].public_id}/image.png").status_code == 200
    assert client_for("rater2").get(f"/read/{queue[2].public_id}/image.png").status_code == 404


def test_last_case_has_nothing_to_prefetch(make_study, personas, client_for):
    study = make_study(n_cases=2)
    queue = _queue(study, personas["rater1"])
    rating_submit(assignment=queue[0], values=COHEN_VALUES)
    assert "data-upcoming-image" not in _page(client_for("rater1"), queue[1])


def test_image_less_cases_are_neither_counted_nor_linked(make_study, personas, client_for):
    study = make_study(n_cases=3)
    csv = "image,rater,extent_right,opacity_right,extent_left,opacity_left\n" + "".join(
        f"past-{i}.png,rater1,1,1,1,1\n" for i in range(5)
    )
    ratings_csv_import(study=study, data=csv.encode(), allow_missing_images=True)
    hidden = set(
        Assignment.objects.filter(study=study, rater=personas["rater1"], case__image__isnull=True).values_list(
            "public_id", flat=True
        )
    )
    assert len(hidden) == 5
    client = client_for("rater1")
    for position, assignment in enumerate(_queue(study, personas["rater1"]), start=1):
        body = _page(client, assignment)
        assert f'Case {position} <span class="muted">of 3</span>' in body and "0 of 3 done" in body
        assert not hidden & set(re.findall(r"/read/([\w-]+)/", body))
    done = client.get(f"/studies/{study.slug}/done/").content.decode()
    assert "You have completed 0 of 3 cases" in done


def test_a_form_sent_twice_stores_one_revision_and_a_new_visit_another(make_study, personas, client_for):
    study = make_study(n_cases=1)
    assignment = _queue(study, personas["rater1"])[0]
    client = client_for("rater1")
    key = re.search(r'name="client_key" value="([\w-]+)"', _page(client, assignment)).group(1)
    for _ in range(2):  # a double click, or a retry after the answer was lost
        assert client.post(f"/read/{assignment.public_id}/", {**COHEN_VALUES, "client_key": key}).status_code == 302
    assert Rating.objects.filter(assignment=assignment).count() == 1
    second = re.search(r'name="client_key" value="([\w-]+)"', _page(client, assignment)).group(1)
    assert second != key
    client.post(f"/read/{assignment.public_id}/", {**COHEN_VALUES, "extent_left": "0", "client_key": second})
    assert list(Rating.objects.filter(assignment=assignment).values_list("revision", flat=True)) == [1, 2]


def test_a_malformed_client_key_is_ignored_not_stored(make_study, personas, client_for):
    study = make_study(n_cases=1)
    assignment = _queue(study, personas["rater1"])[0]
    client_for("rater1").post(f"/read/{assignment.public_id}/", {**COHEN_VALUES, "client_key": "<script>" * 20})
    assert Rating.objects.get(assignment=assignment).client_key == ""


def test_scores_are_large_labelled_radio_groups_with_definitions_and_live_totals(make_study, personas, client_for):
    study = make_study(n_cases=1)
    body = _page(client_for("rater1"), _queue(study, personas["rater1"])[0])
    assert body.count('role="radiogroup"') == 4
    assert 'aria-labelledby="label-extent_right"' in body and 'id="label-extent_right"' in body
    assert (
        'aria-describedby="def-extent_right-4"' in body and 'id="def-extent_right-4">More than 75% involvement' in body
    )
    assert re.search(r'class="totals"[^>]*aria-live="polite"', body)
    assert '<progress class="progress"' in body and 'aria-keyshortcuts="Enter"' in body
    assert re.search(r'name="extent_right" value="0"\s+required', body)  # required without JavaScript too


def test_legend_lists_each_scale_once(make_study, personas, client_for):
    cohen = make_study(n_cases=1)
    body = _page(client_for("rater1"), _queue(cohen, personas["rater1"])[0])
    legend = body[body.index('class="legend"') :]
    assert legend.count("<h3>Geographic extent</h3>") == 1 and legend.count("<h3>Opacity</h3>") == 1
    brixia = make_study(n_cases=1, rubric="brixia", slug="s2")
    body = _page(client_for("rater1"), _queue(brixia, personas["rater1"])[0])
    assert body[body.index('class="legend"') :].count("<h3>") == 1


def test_locked_study_shows_the_case_read_only_and_refuses_scores(make_study, personas, client_for):
    study = make_study(n_cases=1)
    assignment = _queue(study, personas["rater1"])[0]
    study_lock(study=study)
    client = client_for("rater1")
    body = _page(client, assignment)
    assert "The study is locked" in body and 'id="submit"' not in body and "data-read-only" in body
    response = client.post(f"/read/{assignment.public_id}/", COHEN_VALUES)
    assert response.status_code == 400 and "locked" in response.content.decode()
    assert not Rating.objects.exists()


def test_done_page_shows_own_counts_and_the_way_back(make_study, personas, client_for):
    study = make_study(n_cases=2)
    queue = _queue(study, personas["rater1"])
    rating_submit(assignment=queue[0], values=COHEN_VALUES)
    assignment_flag(assignment=queue[1], reason="not_chest")
    body = client_for("rater1").get(f"/studies/{study.slug}/done/").content.decode()
    assert "You have completed 2 of 2 cases" in body and "(1 flagged)" in body
    assert f"/read/{queue[0].public_id}/" in body
    assert "rater2" not in body


def test_outsiders_and_other_roles_get_404_for_the_reading_pages(make_study, client_for):
    study = make_study(n_cases=1)
    for name in ("oscar", "alice", "olivia"):
        client = client_for(name)
        assert client.get(f"/studies/{study.slug}/read/").status_code == 404, name
        assert client.get(f"/studies/{study.slug}/done/").status_code == 404, name


def test_draft_study_is_not_readable(make_study, personas, client_for):
    study = make_study(n_cases=1)
    assignment = _queue(study, personas["rater1"])[0]
    Study.objects.filter(pk=study.pk).update(status=Study.Status.DRAFT)
    assert client_for("rater1").get(f"/read/{assignment.public_id}/").status_code == 404
