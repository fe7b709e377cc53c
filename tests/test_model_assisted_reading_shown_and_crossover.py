"""Model-assisted reading is a study setting, never a leak: `none` shows nothing, `shown` shows the
active model's pre-score (and records which version), `crossover` reads each case twice."""

import pytest

from annotation.models import Assignment, Rating, Study
from annotation.reading_order import SECOND_SESSION, Read, second_session_keys
from annotation.services import (
    StudyStateError,
    images_import,
    membership_add,
    rating_submit,
    study_create,
    study_open,
    study_update,
)
from scoring.model.heads import paper_head
from scoring.models import ModelVersion, Prediction
from scoring.selectors import study_score_table
from scoring.services import agreement_report_build
from tests.conftest import COHEN_VALUES, image_sources


def make(personas, *, mode: str, n_cases: int = 6, gap: int = 3, slug: str = "aided") -> Study:
    study = study_create(owner=personas["alice"], slug=slug, title=slug, rubric="cohen2020")
    study_update(
        study=study, title=slug, rubric="cohen2020", raters_per_case=3, model_assistance=mode, crossover_gap=gap
    )
    for name in ("rater1", "rater2", "rater3"):
        membership_add(study=study, user=personas[name], role="rater")
    images_import(study=study, sources=image_sources(n_cases))
    study_open(study=study)
    return study


def predict_all(study: Study, value: float = 4.4) -> ModelVersion:
    version = ModelVersion.objects.create(
        study=study,
        number=1,
        backbone="densenet121-res224-all",
        feature_set="lung_opacity",
        head=paper_head().to_dict(),
        is_active=True,
    )
    Prediction.objects.bulk_create(
        [
            Prediction(case=case, model_version=version, values={"geographic_extent": value, "opacity": 2.75})
            for case in study.cases.all()
        ]
    )
    return version


def test_unaided_study_shows_no_model_output_and_refuses_a_shown_version(personas, client_for):
    study = make(personas, mode="none")
    predict_all(study)
    assignment = Assignment.objects.filter(study=study, rater=personas["rater1"]).first()
    client = client_for("rater1")
    body = client.get(f"/read/{assignment.public_id}/").content.decode()
    assert "Model pre-score" not in body and "4.4" not in body and "model_version_shown" not in body
    assert client.get(f"/read/{assignment.public_id}/saliency.png").status_code == 404
    response = client.post(f"/read/{assignment.public_id}/", {**COHEN_VALUES, "model_version_shown": "1"})
    assert response.status_code == 400 and "unaided read" in response.content.decode()
    assert Rating.objects.count() == 0


def test_shown_study_shows_the_active_pre_score_and_stores_the_version_shown(personas, client_for):
    study = make(personas, mode="shown")
    version = predict_all(study)
    assignment = Assignment.objects.filter(study=study, rater=personas["rater1"]).first()
    assert assignment.aided
    client = client_for("rater1")
    body = client.get(f"/read/{assignment.public_id}/").content.decode()
    assert "Model pre-score" in body and "4.4" in body and 'name="model_version_shown" value="1"' in body
    client.post(f"/read/{assignment.public_id}/", {**COHEN_VALUES, "model_version_shown": "1"})
    assert Rating.objects.get().model_version_shown == version


def test_shown_study_without_predictions_says_so(personas, client_for):
    study = make(personas, mode="shown")
    assignment = Assignment.objects.filter(study=study, rater=personas["rater1"]).first()
    body = client_for("rater1").get(f"/read/{assignment.public_id}/").content.decode()
    assert "no model pre-score is available" in body and "model_version_shown" not in body


def test_crossover_reads_each_case_twice_with_the_gap_between_the_two_reads(personas):
    study = make(personas, mode="crossover", n_cases=12, gap=5)
    for name in ("rater1", "rater2", "rater3"):
        queue = list(Assignment.objects.filter(study=study, rater=personas[name]).order_by("order_key"))
        assert len(queue) == 24
        positions: dict[int, list[tuple[int, bool]]] = {}
        for index, assignment in enumerate(queue):
            positions.setdefault(assignment.case_id, []).append((index, assignment.aided))
        for reads in positions.values():
            (first, first_aided), (second, second_aided) = reads
            assert {first_aided, second_aided} == {True, False}
            assert second - first - 1 >= 5
    firsts = [reads[0][1] for reads in _first_conditions(study)]
    assert True in firsts and False in firsts  # which condition comes first is randomised


def _first_conditions(study):
    out = {}
    for a in Assignment.objects.filter(study=study).order_by("rater_id", "order_key"):
        out.setdefault((a.rater_id, a.case_id), []).append((a.order_key, a.aided))
    return out.values()


def test_crossover_keeps_the_gap_when_cases_arrive_after_opening(personas):
    study = make(personas, mode="crossover", n_cases=8, gap=4)
    images_import(study=study, sources=image_sources(4, start=100))
    queue = list(Assignment.objects.filter(study=study, rater=personas["rater1"]).order_by("order_key"))
    assert len(queue) == 24
    seen = {}
    for index, assignment in enumerate(queue):
        if assignment.case_id in seen:
            assert index - seen[assignment.case_id] - 1 >= 4
        seen[assignment.case_id] = index


def test_second_session_keeps_done_reads_and_spaces_the_rest():
    first = [Read(pk=i, case_id=i, key=i * 10, done=True) for i in range(6)]
    second = [Read(pk=100 + i, case_id=i, key=SECOND_SESSION + (5 - i), done=False) for i in range(6)]
    second[0] = Read(pk=100, case_id=0, key=SECOND_SESSION + 1, done=True)
    keys = second_session_keys(first + second, gap=3)
    assert 100 not in keys  # a read already done keeps its key
    order = [0] + [pk - 100 for pk, _ in sorted(keys.items(), key=lambda item: item[1])]
    for position, case_id in enumerate(order):
        assert (5 - case_id) + position >= 3


def test_model_assistance_is_fixed_once_the_study_is_open(personas):
    study = make(personas, mode="none")
    with pytest.raises(StudyStateError, match="model assistance"):
        study_update(study=study, title="x", rubric="cohen2020", raters_per_case=3, model_assistance="shown")


def test_report_compares_unaided_and_aided_reads_and_the_model(personas):
    study = make(personas, mode="crossover", n_cases=6, gap=2)
    predict_all(study)
    version = study.model_versions.get(number=1)
    for i, assignment in enumerate(Assignment.objects.filter(study=study).order_by("pk")):
        bump = 1 if assignment.aided else 0
        rating_submit(
            assignment=assignment,
            values={**COHEN_VALUES, "extent_right": (i + bump) % 5},
            reading_time_s=10.0 + bump,
            model_version_shown=version if assignment.aided else None,
        )
    table = study_score_table(study=study)
    assert table.n_ratings == 18  # the main agreement is about the unaided reads
    data = agreement_report_build(study=study, table=table, n_boot=20)
    conditions = data["reading_conditions"]
    assert conditions["unaided"]["n_reads"] == conditions["aided"]["n_reads"] == 18
    assert conditions["unaided"]["mean_reading_time_s"] == 10.0 and conditions["aided"]["mean_reading_time_s"] == 11.0
    assert conditions["unaided"]["scores"]["geographic_extent"]["mae_vs_reference"] is not None
    model = data["model"]
    assert model["version"] == 1 and model["n_cases"] == 6
    assert model["scores"]["geographic_extent"]["mae"] is not None
    assert "alpha_with_model" in model["scores"]["opacity"]
