"""Each prediction carries its version's conformal interval: stored by the pre-score, shown to owners
and exported, never served with an aided read's pre-score (issue 16)."""

import json

from django.core.management import call_command

from annotation.models import Assignment
from annotation.services import images_import, membership_add, study_create, study_open, study_update
from scoring.model.heads import paper_head
from scoring.models import ModelVersion, Prediction
from scoring.services import model_version_activate
from tests.conftest import image_sources, rated_chest_study

N_CASES = 12  # a 90% interval needs at least 9 cases


def test_prescore_stores_the_versions_interval_around_each_prediction(personas, fake_backbone, client_for, capsys):
    study = rated_chest_study(personas, slug="cxr", n=N_CASES)
    call_command("retrain", study.slug, "--features", "four_outputs", "--sync")
    version = ModelVersion.objects.get(study=study, number=2)
    widths = version.intervals["halfwidth"]
    assert version.intervals["level"] == 0.9 and all(w is not None and w > 0 for w in widths.values())
    model_version_activate(version=version)
    call_command("prescore", study.slug, "--sync")
    predictions = Prediction.objects.filter(model_version=version)
    assert predictions.count() == N_CASES
    for prediction in predictions:
        for target, (low, high) in prediction.intervals.items():
            value, (floor, ceiling) = prediction.values[target], version.head["clamp"][target]
            assert low <= value <= high
            assert round(max(floor, value - widths[target]), 4) == low
            assert round(min(ceiling, value + widths[target]), 4) == high
    capsys.readouterr()
    call_command("export_predictions", study.slug)
    rows = [line.split(",") for line in capsys.readouterr().out.splitlines()]
    v2_rows = [row for row in rows[1:] if row[1] == "2"]
    assert len(v2_rows) == N_CASES and all(row[-1] == "0.9" and row[4] and row[5] for row in v2_rows)
    page = client_for("alice").get(f"/studies/{study.slug}/model/").content.decode()
    assert "split-conformal" in page
    prediction = predictions.select_related("case").first()
    low, high = prediction.intervals["opacity"]
    case_page = client_for("alice").get(f"/studies/{study.slug}/cases/{prediction.case.public_id}/").content.decode()
    assert f"[{low:.2f} to {high:.2f}]" in case_page and "prediction interval" in case_page


def test_an_aided_read_shows_the_pre_score_without_its_interval(personas, client_for):
    study = study_create(owner=personas["alice"], slug="aided", title="aided", rubric="cohen2020")
    study_update(study=study, title="aided", rubric="cohen2020", raters_per_case=3, model_assistance="shown")
    for name in ("rater1", "rater2", "rater3"):
        membership_add(study=study, user=personas[name], role="rater")
    images_import(study=study, sources=image_sources(4))
    study_open(study=study)
    version = ModelVersion.objects.create(
        study=study, number=1, backbone="densenet121-res224-all", feature_set="lung_opacity",
        head=paper_head().to_dict(), is_active=True,
    )  # fmt: skip
    Prediction.objects.bulk_create(
        Prediction(
            case=case,
            model_version=version,
            values={"geographic_extent": 4.4, "opacity": 2.75},
            intervals={"geographic_extent": [1.2345, 7.6543], "opacity": [0.4321, 5.8765]},
        )
        for case in study.cases.all()
    )
    assignment = Assignment.objects.filter(study=study, rater=personas["rater1"]).first()
    client = client_for("rater1")
    page = client.get(f"/read/{assignment.public_id}/").content.decode()
    api = json.dumps(client.get(f"/api/v1/assignments/{assignment.public_id}/").json())
    assert "4.4" in page and "4.4" in api  # the pre-score is served
    for body in (page, api):
        for bound in ("1.2345", "7.6543", "0.4321", "5.8765"):
            assert bound not in body
