import pytest

from annotation.models import Assignment, Rating
from annotation.rubrics import RubricValueError
from annotation.services import StudyStateError, assignment_flag, rating_submit, study_lock
from tests.conftest import COHEN_VALUES


@pytest.fixture
def assignment(make_study, personas):
    study = make_study(n_cases=2)
    return Assignment.objects.filter(study=study, rater=personas["rater1"]).order_by("order_key").first()


def test_every_submission_is_a_new_revision_and_the_latest_is_current(assignment):
    first = rating_submit(assignment=assignment, values=COHEN_VALUES, reading_time_s=12.5)
    second = rating_submit(assignment=assignment, values={**COHEN_VALUES, "extent_left": 4}, reading_time_s=3.0)
    assignment.refresh_from_db()
    assert [r.revision for r in assignment.ratings.all()] == [1, 2]
    assert assignment.current_rating == second
    first.refresh_from_db()
    assert first.values == COHEN_VALUES and first.totals == {"geographic_extent": 5, "opacity": 3}
    assert second.totals == {"geographic_extent": 6, "opacity": 3}
    assert first.reading_time_s == 12.5


def test_half_filled_scores_are_refused_and_nothing_is_stored(assignment):
    with pytest.raises(RubricValueError, match="Opacity, left lung: a value is required"):
        rating_submit(assignment=assignment, values={"extent_right": 1, "extent_left": 1, "opacity_right": 1})
    with pytest.raises(RubricValueError, match="outside 0-4"):
        rating_submit(assignment=assignment, values={**COHEN_VALUES, "extent_right": 5})
    assert Rating.objects.count() == 0
    assignment.refresh_from_db()
    assert assignment.completed_at is None


def test_a_locked_study_refuses_ratings_and_flags(assignment):
    rating_submit(assignment=assignment, values=COHEN_VALUES)
    study_lock(study=assignment.study)
    with pytest.raises(StudyStateError, match="locked"):
        rating_submit(assignment=assignment, values=COHEN_VALUES)
    with pytest.raises(StudyStateError, match="locked"):
        assignment_flag(assignment=assignment, reason="wrong_view")
    assert Rating.objects.count() == 1


def test_locked_reading_page_refuses_a_post(assignment, client_for):
    rating_submit(assignment=assignment, values=COHEN_VALUES)
    study_lock(study=assignment.study)
    response = client_for("rater1").post(f"/read/{assignment.public_id}/", {**COHEN_VALUES, "extent_left": 0})
    assert response.status_code == 400
    assert b"locked" in response.content
    assert Rating.objects.get().values == COHEN_VALUES


def test_flag_replaces_the_current_rating_but_keeps_revisions(assignment):
    rating_submit(assignment=assignment, values=COHEN_VALUES)
    assignment_flag(assignment=assignment, reason="not_assessable", note="rotated")
    assignment.refresh_from_db()
    assert assignment.current_rating is None and assignment.flag_reason == "not_assessable"
    assert assignment.completed_at is not None
    assert assignment.ratings.count() == 1


def test_flag_with_reason_other_needs_a_note(assignment):
    with pytest.raises(RubricValueError, match="say why"):
        assignment_flag(assignment=assignment, reason="other", note="  ")


def test_a_draft_study_refuses_web_ratings(make_study, personas):
    study = make_study(n_cases=1)
    assignment = study.assignments.first()
    study.status = "draft"
    study.save()
    with pytest.raises(StudyStateError, match="not open"):
        rating_submit(assignment=assignment, values=COHEN_VALUES)
