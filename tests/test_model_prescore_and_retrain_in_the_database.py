"""Pre-scoring and retraining through the database, on the tiny stand-in backbone; the missing
weights file is found through the real loading path."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import Study
from scoring.model.features import extract, pathologies
from scoring.model.heads import paper_head, select_features
from scoring.model.preprocess import preprocess_bytes
from scoring.models import BackboneOutput, ModelJob, ModelVersion, Prediction
from scoring.services import ModelStateError, model_job_start
from scoring.services.prescore import prescore_execute
from scoring.services.retrain import retrain_execute
from tests.conftest import rated_chest_study
from tests.model_weights import OFFICIAL_FILE, chest_png

N_CASES = 8


@pytest.fixture
def study(personas, fake_backbone):
    return rated_chest_study(personas, slug="cxr", n=N_CASES, title="CXR")


def test_version_one_of_a_cohen2020_study_is_the_papers_head(study):
    call_command("prescore", study.slug, "--sync")
    version = ModelVersion.objects.get(study=study)
    assert (version.number, version.is_active, version.feature_set) == (1, True, "lung_opacity")
    assert version.head["coefficients"]["geographic_extent"] == [0.8705248236656189]


def test_prescore_stores_one_prediction_per_case_equal_to_a_direct_computation(study, fake_backbone):
    call_command("prescore", study.slug, "--sync")
    assert Prediction.objects.filter(case__study=study).count() == N_CASES
    assert BackboneOutput.objects.count() == N_CASES

    model = fake_backbone
    case = study.cases.order_by("pk").first()
    logits, pooled = extract(model, [preprocess_bytes(chest_png(0))])
    expected = paper_head().predict(select_features("lung_opacity", logits, pooled, pathologies(model)))
    stored = Prediction.objects.get(case=case).values
    assert stored["geographic_extent"] == pytest.approx(float(expected["geographic_extent"][0]), abs=1e-4)
    assert stored["opacity"] == pytest.approx(float(expected["opacity"][0]), abs=1e-4)
    values = [p["geographic_extent"] for p in Prediction.objects.values_list("values", flat=True)]
    assert len(set(values)) > 1 and not all(v in (0.0, 8.0) for v in values)  # not all clamped


def test_prescore_is_idempotent(study):
    call_command("prescore", study.slug, "--sync")
    call_command("prescore", study.slug, "--sync")
    assert Prediction.objects.filter(case__study=study).count() == N_CASES
    assert (
        ModelJob.objects.filter(kind="prescore", status="done").order_by("pk").last().result["already_predicted"]
        == N_CASES
    )


def test_a_redelivered_job_resumes_without_duplicates(study):
    job = model_job_start(study=study, kind="prescore", dispatch=False)
    prescore_execute(job_id=job.pk)
    Prediction.objects.filter(case__study=study).order_by("pk").last().delete()
    ModelJob.objects.filter(pk=job.pk).update(status="running")  # as if the worker died before finishing
    prescore_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "done" and job.attempts == 2
    assert Prediction.objects.filter(case__study=study).count() == N_CASES


def test_retrain_evaluates_like_the_paper_and_stores_an_inactive_version(study, capsys):
    call_command("retrain", study.slug, "--features", "lung_opacity", "--sync")
    v2 = ModelVersion.objects.get(study=study, number=2)
    assert not v2.is_active and v2.training_cases == N_CASES
    assert set(v2.metrics) == {"candidate", "none", "active"}
    for which in v2.metrics.values():
        assert set(which) == {"geographic_extent", "opacity"}
        assert set(which["opacity"]) == {"pearson_r", "r2", "mae", "mse"}
    assert ModelVersion.objects.get(study=study, is_active=True).number == 1


def test_rescoring_with_a_new_head_uses_the_cached_backbone_outputs(study, monkeypatch):
    call_command("retrain", study.slug, "--features", "four_outputs", "--sync")
    import scoring.model.features

    def backbone_must_not_run(*args, **kwargs):
        raise AssertionError("the backbone ran again")

    monkeypatch.setattr(scoring.model.features, "extract", backbone_must_not_run)
    call_command("prescore", study.slug, "--model", "2", "--sync")
    assert Prediction.objects.filter(model_version__number=2).count() == N_CASES


def test_auto_promote_follows_the_recorded_paired_decision(study):
    Study.objects.filter(pk=study.pk).update(auto_promote=True)
    study.refresh_from_db()
    job = model_job_start(study=study, kind="retrain", feature_set="none", dispatch=False)
    retrain_execute(job_id=job.pk)
    job.refresh_from_db()
    v2 = ModelVersion.objects.get(study=study, number=2)
    assert set(v2.promotion["targets"]) == {"geographic_extent", "opacity"}
    assert job.result["promoted"] == v2.promotion["promote"] == v2.promotion["promoted"] == v2.is_active
    assert v2.promotion["reason"]


def test_only_one_retrain_per_study_at_a_time(study):
    model_job_start(study=study, kind="retrain", feature_set="none", dispatch=False)
    with pytest.raises(ModelStateError, match="already queued or running"):
        model_job_start(study=study, kind="retrain", feature_set="none", dispatch=False)


def test_missing_weights_fail_the_job_with_the_file_and_folder_and_change_nothing(
    study, settings, tmp_path, monkeypatch
):
    monkeypatch.undo()  # the real loading path, not the stand-in
    settings.SCORING_XRV_CACHE_DIR = str(tmp_path / "empty")
    with pytest.raises(CommandError) as raised:
        call_command("prescore", study.slug, "--sync")
    assert OFFICIAL_FILE in str(raised.value) and str(tmp_path / "empty") in str(raised.value)
    assert Prediction.objects.count() == 0
    job = ModelJob.objects.get(kind="prescore")
    assert job.status == "failed" and OFFICIAL_FILE in job.error
    with pytest.raises(CommandError, match=OFFICIAL_FILE):
        call_command("retrain", study.slug, "--features", "lung_opacity", "--sync")
    assert list(ModelVersion.objects.filter(study=study).values_list("number", "is_active")) == [(1, True)]


def test_export_predictions_lists_every_prediction(study, capsys):
    call_command("prescore", study.slug, "--sync")
    capsys.readouterr()
    call_command("export_predictions", study.slug)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "filename,model_version,geographic_extent,opacity,"
        "geographic_extent_low,geographic_extent_high,opacity_low,opacity_high,interval_level"
    )
    assert len(lines) == 1 + N_CASES and lines[1].startswith("img-0.png,1,")


def test_owner_sees_the_model_page_others_get_404(study, client_for, settings):
    settings.SCORING_SALIENCY = "all"  # maps for an unaided study too
    call_command("prescore", study.slug, "--sync")
    page = client_for("alice").get(f"/studies/{study.slug}/model/").content.decode()
    assert "published head" in page and "Pre-score all cases" in page
    case = study.cases.first()
    response = client_for("alice").get(f"/studies/{study.slug}/cases/{case.public_id}/saliency.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    for name in ("rater1", "olivia", "oscar"):
        client = client_for(name)
        for url in ("model/", "export/predictions.csv", f"cases/{case.public_id}/saliency.png"):
            assert client.get(f"/studies/{study.slug}/{url}").status_code == 404, (name, url)
        assert client.post(f"/studies/{study.slug}/model/prescore/").status_code == 404


def test_in_an_unaided_study_rater_pages_carry_no_model_value(study, client_for):
    call_command("prescore", study.slug, "--sync")
    Study.objects.filter(pk=study.pk).update(status="open")
    client = client_for("rater1")
    values = {str(v) for p in Prediction.objects.values_list("values", flat=True) for v in p.values()}
    for assignment in study.assignments.filter(rater__username="rater1"):
        response = client.get(f"/read/{assignment.public_id}/")
        body = response.content.decode()
        assert "pre-score" not in body.lower()
        for value in values:
            assert value not in body
        for header in response.headers.values():
            assert not any(value in header for value in values)
