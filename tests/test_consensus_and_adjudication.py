import pytest

from annotation.csv_io import ratings_csv_import
from annotation.models import Rating
from annotation.services import StudyStateError, adjudication_record, membership_set_adjudicator
from scoring.exports import consensus_csv
from scoring.selectors import adjudication_queue, study_consensus

RATINGS = """image,rater,extent_right,extent_left,opacity_right,opacity_left
a.png,rater1,1,1,1,1
a.png,rater2,1,2,1,1
a.png,rater3,2,1,1,1
b.png,rater1,0,0,0,0
b.png,rater2,4,4,3,3
b.png,rater3,1,1,1,1
"""


@pytest.fixture
def study(make_study, personas):
    study = make_study(n_cases=0, open_it=False)
    ratings_csv_import(study=study, data=RATINGS.encode(), allow_missing_images=True)
    return study


def test_consensus_is_the_mean_of_current_totals_and_median_is_an_option(study):
    rows = {row.filename: row for row in study_consensus(study=study)}
    assert rows["a.png"].consensus["geographic_extent"] == pytest.approx(8 / 3)
    assert rows["b.png"].consensus["geographic_extent"] == pytest.approx(10 / 3)
    study.consensus_method = "median"
    study.save()
    rows = {row.filename: row for row in study_consensus(study=study)}
    assert rows["b.png"].consensus["geographic_extent"] == 2


def test_cases_whose_totals_span_the_threshold_wait_for_adjudication(study):
    assert [row.filename for row in adjudication_queue(study=study)] == ["b.png"]  # range 8 vs 1
    study.adjudication_range = 9
    study.save()
    assert adjudication_queue(study=study) == []


def test_adjudicator_records_a_final_score_and_ratings_stay_untouched(study, personas):
    before = list(Rating.objects.values_list("pk", "values", "totals"))
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True)
    case = study.cases.get(original_filename="b.png")
    adjudication_record(
        case=case,
        adjudicator=personas["olivia"],
        values={"extent_right": 2, "extent_left": 2, "opacity_right": 1, "opacity_left": 1},
        note="reviewed",
    )
    assert list(Rating.objects.values_list("pk", "values", "totals")) == before
    assert adjudication_queue(study=study) == []
    lines = consensus_csv(study=study).splitlines()
    assert lines[0].startswith(
        "image,case_id,n_raters,geographic_extent_consensus_mean,geographic_extent_range,geographic_extent_adjudicated,geographic_extent_final"
    )
    row_b = next(line for line in lines if line.startswith("b.png"))
    assert row_b.endswith("adjudicated,no,0,") and ",4,4," in row_b
    row_a = next(line for line in lines if line.startswith("a.png"))
    assert row_a.endswith("consensus,no,0,")


def test_a_rater_cannot_be_made_adjudicator(study, personas):
    with pytest.raises(StudyStateError, match="is a rater"):
        membership_set_adjudicator(study=study, user=personas["rater1"], allowed=True)


def test_only_adjudicators_record_final_scores(study, personas, client_for):
    case = study.cases.get(original_filename="b.png")
    with pytest.raises(StudyStateError, match="not an adjudicator"):
        adjudication_record(
            case=case,
            adjudicator=personas["alice"],
            values={"extent_right": 1, "extent_left": 1, "opacity_right": 1, "opacity_left": 1},
        )
    values = {"extent_right": "1", "extent_left": "1", "opacity_right": "1", "opacity_left": "1"}
    assert client_for("olivia").post(f"/studies/{study.slug}/adjudicate/{case.public_id}/", values).status_code == 404
    assert client_for("rater1").get(f"/studies/{study.slug}/adjudicate/{case.public_id}/").status_code == 404


def test_owner_makes_an_observer_adjudicator_who_then_adjudicates_in_the_browser(study, personas, client_for):
    membership = study.memberships.get(user=personas["olivia"])
    client_for("alice").post(f"/studies/{study.slug}/members/{membership.public_id}/adjudicator/", {"allowed": "1"})
    case = study.cases.get(original_filename="b.png")
    client = client_for("olivia")
    page = client.get(f"/studies/{study.slug}/adjudicate/{case.public_id}/").content.decode()
    assert "rater2" in page and "Record final score" in page
    response = client.post(
        f"/studies/{study.slug}/adjudicate/{case.public_id}/",
        {"extent_right": "2", "extent_left": "1", "opacity_right": "1", "opacity_left": "1"},
    )
    assert response.status_code == 302
    assert case.adjudications.get().totals == {"geographic_extent": 3, "opacity": 2}


def test_adjudication_refused_when_locked(study, personas):
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True)
    study.status = "locked"
    study.save()
    with pytest.raises(StudyStateError, match="locked"):
        adjudication_record(
            case=study.cases.first(),
            adjudicator=personas["olivia"],
            values={"extent_right": 1, "extent_left": 1, "opacity_right": 1, "opacity_left": 1},
        )
