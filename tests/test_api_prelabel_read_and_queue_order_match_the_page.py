"""The API does what the reading page and the settings page do: a pre-labelling read carries its
starting values and stores them with the rating, a read without a prediction cannot be scored, and
an owner's queue order is applied to the raters' queues (`queue/next/` serves the least certain
case first)."""

from annotation.models import Assignment, Rating, Study
from annotation.rubrics import RUBRICS, rubric_prelabel_values
from annotation.services import images_import, membership_add, study_create, study_open, study_update
from scoring.model.heads import paper_head
from scoring.models import ModelVersion, Prediction
from tests.api_support import API, api_client, error_of
from tests.conftest import image_sources


def prelabel_study(personas) -> Study:
    study = study_create(owner=personas["alice"], slug="pre", title="pre", rubric="cohen2020", raters_per_case=3)
    study_update(study=study, title="pre", rubric="cohen2020", raters_per_case=3, model_assistance="prelabel")
    for name in ("rater1", "rater2", "rater3"):
        membership_add(study=study, user=personas[name], role="rater")
    images_import(study=study, sources=image_sources(5))
    study_open(study=study)
    return study


def predict(study: Study) -> dict[int, dict]:
    version = ModelVersion.objects.create(
        study=study, number=1, backbone="densenet121-res224-all", feature_set="lung_opacity",
        head=paper_head().to_dict(), is_active=True,
    )  # fmt: skip
    hints = {}
    for i, case in enumerate(study.cases.order_by("pk")):
        hints[case.pk] = {"geographic_extent": 1.0 + i, "opacity": 0.5 + i}
        width = 0.5 + i  # the last case is the least certain
        intervals = {t: [v - width, v + width] for t, v in hints[case.pk].items()}
        Prediction.objects.create(case=case, model_version=version, values=hints[case.pk], intervals=intervals)
    return hints


def test_a_prelabel_read_carries_its_starting_values_and_stores_them(personas):
    study = prelabel_study(personas)
    hints = predict(study)
    rater = api_client(personas["rater1"])
    case = rater.get(f"{API}/studies/pre/queue/next/").json()
    assignment = Assignment.objects.get(public_id=case["id"])
    start = rubric_prelabel_values(RUBRICS["cohen2020"], hints[assignment.case_id])
    assert case["aided"] and case["model_version"] == 1 and case["prelabel_values"] == start
    corrected = {**start, "opacity_left": 3 - (start["opacity_left"] or 0)}
    body = {"values": corrected, "model_version_shown": 1}
    assert rater.post(f"{API}/assignments/{case['id']}/ratings/", body, format="json").status_code == 201
    rating = Rating.objects.get(assignment=assignment)
    assert rating.values == corrected and rating.prelabel_values == start and rating.model_version_shown.number == 1


def test_without_a_prediction_the_api_serves_no_start_and_refuses_a_rating(personas):
    prelabel_study(personas)
    rater = api_client(personas["rater1"])
    case = rater.get(f"{API}/studies/pre/queue/next/").json()
    assert case["aided"] and case["model_version"] is None and "prelabel_values" not in case
    values = {"extent_right": 1, "extent_left": 1, "opacity_right": 1, "opacity_left": 1}
    response = rater.post(f"{API}/assignments/{case['id']}/ratings/", {"values": values}, format="json")
    assert response.status_code == 409 and error_of(response)["code"] == "model_hint_not_served"
    assert not Rating.objects.exists()


def test_an_unaided_read_has_no_starting_values(make_study, personas):
    make_study(n_cases=1)
    case = api_client(personas["rater1"]).get(f"{API}/studies/s1/queue/next/").json()
    assert "prelabel_values" not in case and "aided" not in case


def test_the_owners_queue_order_reaches_the_raters_next_case(personas, django_capture_on_commit_callbacks):
    study = prelabel_study(personas)
    predict(study)
    owner = api_client(personas["alice"])
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.patch(f"{API}/studies/pre/", {"queue_order": "uncertainty"}, format="json")
    assert response.status_code == 200 and response.json()["queue_order"] == "uncertainty"
    widest = study.cases.order_by("-pk").first()
    for name in ("rater1", "rater2", "rater3"):
        case = api_client(personas[name]).get(f"{API}/studies/pre/queue/next/").json()
        assert Assignment.objects.get(public_id=case["id"]).case_id == widest.pk and case["position"] == 1
