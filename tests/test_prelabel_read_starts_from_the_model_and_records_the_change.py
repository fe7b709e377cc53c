"""A `prelabel` study: each case is read once, aided; the reading page's form starts from the active
model's pre-score spread over the items, the rater confirms or corrects it, and the stored rating
keeps the starting values and the version shown, so that owners see what raters changed (the
ratings export, the study page). Without a prediction the case waits, as in a `shown` study."""

import csv
import io

import pytest

from annotation.models import Assignment, Rating, Study
from annotation.rubrics import RUBRICS, rubric_prelabel_values
from annotation.services import images_import, membership_add, study_create, study_open, study_update
from scoring.model.heads import paper_head
from scoring.models import ModelVersion, Prediction
from scoring.selectors import study_score_table
from tests.conftest import image_sources

HINT = {"geographic_extent": 4.6, "opacity": 3.2}
START = rubric_prelabel_values(RUBRICS["cohen2020"], HINT)  # extent 3 + 2, opacity 2 + 1


def prelabel_study(personas, *, n_cases: int = 3) -> Study:
    study = study_create(owner=personas["alice"], slug="pre", title="pre", rubric="cohen2020", raters_per_case=3)
    study_update(study=study, title="pre", rubric="cohen2020", raters_per_case=3, model_assistance="prelabel")
    for name in ("rater1", "rater2", "rater3"):
        membership_add(study=study, user=personas[name], role="rater")
    images_import(study=study, sources=image_sources(n_cases))
    study_open(study=study)
    return study


def predict_all(study: Study) -> ModelVersion:
    version = ModelVersion.objects.create(
        study=study, number=1, backbone="densenet121-res224-all", feature_set="lung_opacity",
        head=paper_head().to_dict(), is_active=True,
    )  # fmt: skip
    Prediction.objects.bulk_create(
        [Prediction(case=case, model_version=version, values=HINT) for case in study.cases.all()]
    )
    return version


def test_each_case_is_one_aided_read(personas):
    study = prelabel_study(personas)
    reads = Assignment.objects.filter(study=study)
    assert reads.count() == 9 and not reads.filter(aided=False).exists()


def test_the_form_starts_from_the_models_values_and_the_change_is_stored(personas, client_for):
    study = prelabel_study(personas)
    version = predict_all(study)
    assignment = Assignment.objects.filter(study=study, rater=personas["rater1"]).order_by("order_key").first()
    client = client_for("rater1")
    body = client.get(f"/read/{assignment.public_id}/").content.decode()
    assert "scores below start from the model" in body and 'name="model_version_shown" value="1"' in body
    for key, value in START.items():  # each starting value is the checked level
        assert f'name="{key}" value="{value}" checked' in " ".join(body.split())
    corrected = {**START, "extent_right": 1}
    response = client.post(f"/read/{assignment.public_id}/", {**corrected, "model_version_shown": "1"})
    assert response.status_code == 302
    rating = Rating.objects.get(assignment=assignment)
    assert rating.values == corrected and rating.prelabel_values == START and rating.model_version_shown == version
    # A confirmation without a change is recorded as one too.
    other = Assignment.objects.filter(study=study, rater=personas["rater2"]).first()
    client_for("rater2").post(f"/read/{other.public_id}/", {**START, "model_version_shown": "1"})
    assert Rating.objects.get(assignment=other).prelabel_values == START

    owner = client_for("alice")
    rows = list(csv.DictReader(io.StringIO(owner.get(f"/studies/{study.slug}/export/ratings.csv").content.decode())))
    changed = {row["rater"]: row["prelabel_items_changed"] for row in rows}
    assert changed == {"rater1": "1", "rater2": "0"}
    assert {row["prelabel_extent_right"] for row in rows} == {str(START["extent_right"])}
    page = " ".join(owner.get(f"/studies/{study.slug}/").content.decode().split())
    assert "changed the model's starting values in 1 of 2 scored reads (50%), 1 of 8 items" in page
    # Observers see counts only, never how the raters' scores relate to the model's.
    assert "starting values" not in client_for("olivia").get(f"/studies/{study.slug}/").content.decode()


def test_prelabel_reads_are_the_studys_main_reads_as_in_a_shown_study(personas, client_for):
    study = prelabel_study(personas, n_cases=1)
    predict_all(study)
    for name in ("rater1", "rater2", "rater3"):
        assignment = Assignment.objects.get(study=study, rater=personas[name])
        client_for(name).post(f"/read/{assignment.public_id}/", {**START, "model_version_shown": "1"})
    table = study_score_table(study=study)
    assert len(table.raters) == 3 and len(table.case_ids) == 1  # the agreement analysis reads them


def test_without_a_prediction_the_case_waits_and_cannot_be_scored(personas, client_for):
    study = prelabel_study(personas)
    assignment = Assignment.objects.filter(study=study, rater=personas["rater1"]).first()
    client = client_for("rater1")
    body = client.get(f"/read/{assignment.public_id}/").content.decode()
    assert "no model pre-score is available" in body and "checked" not in body
    response = client.post(f"/read/{assignment.public_id}/", START)
    assert response.status_code == 400 and Rating.objects.count() == 0


@pytest.mark.parametrize("mode", ["none", "shown"])
def test_starting_values_are_stored_only_in_a_prelabel_study(personas, client_for, mode):
    study = study_create(owner=personas["alice"], slug="other", title="o", rubric="cohen2020", raters_per_case=1)
    study_update(study=study, title="o", rubric="cohen2020", raters_per_case=1, model_assistance=mode)
    membership_add(study=study, user=personas["rater1"], role="rater")
    images_import(study=study, sources=image_sources(1))
    study_open(study=study)
    predict_all(study)
    assignment = Assignment.objects.get(study=study)
    body = client_for("rater1").get(f"/read/{assignment.public_id}/").content.decode()
    assert "start from the model" not in body and " checked" not in body
    shown = {"model_version_shown": "1"} if mode == "shown" else {}
    client_for("rater1").post(f"/read/{assignment.public_id}/", {**START, **shown})
    assert Rating.objects.get().prelabel_values is None
