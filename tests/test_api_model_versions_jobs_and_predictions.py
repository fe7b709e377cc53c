"""Model versions, pre-score and retrain jobs and predictions over the API, with a random DenseNet
loaded the real way. Jobs run eagerly once their row is committed (the on_commit callbacks the
test client's transaction would otherwise never run); who may ask is in the persona table
(test_api_permissions_match_the_pages_for_every_persona.py)."""

import csv
import io

import pytest

from annotation.models import Study
from annotation.services import membership_add, study_create
from scoring.models import ModelJob, ModelVersion, Prediction
from scoring.services import model_job_start
from tests.api_support import API, api_client, error_of
from tests.conftest import rated_chest_study
from tests.model_weights import OFFICIAL_FILE

N_CASES = 6


@pytest.fixture
def study(personas, fake_backbone):
    """A cohen2020 study, fully rated by three raters (enough to retrain), not yet pre-scored."""
    study = rated_chest_study(personas, slug="cxr", n=N_CASES, title="CXR")
    membership_add(study=study, user=personas["olivia"], role="observer")
    return study


@pytest.fixture
def owner(personas):
    return api_client(personas["alice"])


def start_and_run(client, capture, body: dict) -> dict:
    """POST jobs/, let the worker run it (eagerly, on commit), and poll the job's url once."""
    with capture(execute=True):
        response = client.post(f"{API}/studies/cxr/jobs/", body, format="json")
    assert response.status_code == 202, response.content
    started = response.json()
    assert response["Location"] == started["url"] and started["url"].endswith(f"/studies/cxr/jobs/{started['id']}/")
    polled = client.get(started["url"])
    assert polled.status_code == 200
    return polled.json()


def test_owner_prescores_and_lists_every_prediction(study, owner, django_capture_on_commit_callbacks):
    job = start_and_run(owner, django_capture_on_commit_callbacks, {"kind": "prescore"})
    assert (job["kind"], job["status"], job["error"], job["model_version"]) == ("prescore", "done", "", 1)
    assert (job["phase"], job["done"], job["total"], job["percent"]) == ("done", N_CASES, N_CASES, 100)
    assert job["result"] == {
        "cases": N_CASES,
        "predicted": N_CASES,
        "already_predicted": 0,
        "recomputed_stale": 0,
        "saliency_maps": 0,
    }

    listed = owner.get(f"{API}/studies/cxr/predictions/").json()
    assert listed["count"] == N_CASES
    first = listed["results"][0]
    case = study.cases.get(original_filename="img-0.png")
    assert (first["case_id"], first["filename"], first["model_version"]) == (case.public_id, "img-0.png", 1)
    assert first["values"] == Prediction.objects.get(case=case).values
    assert set(first["values"]) == {"geographic_extent", "opacity"}
    assert owner.get(f"{API}/studies/cxr/predictions/?model_version=2").json()["count"] == 0
    assert owner.get(f"{API}/studies/cxr/predictions/?case_id={case.public_id}").json()["count"] == 1

    exported = owner.get(f"{API}/studies/cxr/exports/predictions.csv")
    assert exported["Content-Type"].startswith("text/csv") and "cxr-predictions.csv" in exported["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(exported.content.decode())))
    assert lines[0][:4] == ["filename", "model_version", "geographic_extent", "opacity"] and len(lines) == 1 + N_CASES
    assert lines[0][4:] == [
        "geographic_extent_low",
        "geographic_extent_high",
        "opacity_low",
        "opacity_high",
        "interval_level",
    ]


def test_prescore_is_idempotent_through_the_api(study, owner, django_capture_on_commit_callbacks):
    start_and_run(owner, django_capture_on_commit_callbacks, {"kind": "prescore"})
    again = start_and_run(owner, django_capture_on_commit_callbacks, {"kind": "prescore", "model_version": 1})
    assert again["result"] == {
        "cases": N_CASES,
        "predicted": 0,
        "already_predicted": N_CASES,
        "recomputed_stale": 0,
        "saliency_maps": 0,
    }
    assert Prediction.objects.filter(case__study=study).count() == N_CASES


def test_owner_retrains_activates_the_new_version_and_prescores_with_it(
    study, owner, django_capture_on_commit_callbacks
):
    job = start_and_run(
        owner,
        django_capture_on_commit_callbacks,
        {"kind": "retrain", "feature_set": "four_outputs", "ridge_alpha": 1.0},
    )
    assert (job["status"], job["model_version"]) == ("done", 2), job["error"]
    assert job["params"] == {"feature_set": "four_outputs", "ridge_alpha": 1.0, "group_by_case": False}
    assert job["result"] == {"version": 2, "training_cases": N_CASES, "promoted": False}

    versions = owner.get(f"{API}/studies/cxr/model-versions/").json()["results"]
    assert [(v["number"], v["feature_set"], v["is_active"]) for v in versions] == [
        (1, "lung_opacity", True),
        (2, "four_outputs", False),
    ]
    v2 = owner.get(f"{API}/studies/cxr/model-versions/2/").json()
    assert v2["training_cases"] == N_CASES and set(v2["metrics"]) == {"candidate", "none", "active"}
    assert v2["metrics"]["candidate"]["opacity"]["mae"]["mean"] > 0
    assert v2["head"] == ModelVersion.objects.get(study=study, number=2).head
    assert len(v2["training_table"]) == N_CASES and v2["provenance"]["training_table_sha256"]
    assert v2["provenance"]["grouping"]["by"] == "patient" and v2["promotion"]["reason"]

    activated = owner.post(f"{API}/studies/cxr/model-versions/2/activate/")
    assert activated.status_code == 200 and activated.json()["is_active"] is True
    assert owner.get(f"{API}/studies/cxr/model-versions/?is_active=true").json()["results"][0]["number"] == 2

    job = start_and_run(owner, django_capture_on_commit_callbacks, {"kind": "prescore"})
    assert (job["status"], job["model_version"]) == ("done", 2)
    assert owner.get(f"{API}/studies/cxr/predictions/?model_version=2").json()["count"] == N_CASES


def test_a_second_retrain_while_one_is_queued_is_a_409(study, owner):
    # Without executing the on_commit callbacks the first job stays queued, as behind a busy worker.
    first = owner.post(f"{API}/studies/cxr/jobs/", {"kind": "retrain", "feature_set": "none"}, format="json")
    assert first.status_code == 202 and first.json()["status"] == "queued"
    second = owner.post(f"{API}/studies/cxr/jobs/", {"kind": "retrain", "feature_set": "lung_opacity"}, format="json")
    assert second.status_code == 409
    error = error_of(second)
    assert error["code"] == "model_state" and "already queued or running" in error["message"]
    assert ModelJob.objects.filter(study=study, kind="retrain").count() == 1
    # a pre-score may still start meanwhile
    assert owner.post(f"{API}/studies/cxr/jobs/", {"kind": "prescore"}, format="json").status_code == 202


def test_prescore_without_any_model_version_is_a_409(personas, owner):
    study_create(owner=personas["alice"], slug="ralo-study", title="RALO", rubric="ralo")
    response = owner.post(f"{API}/studies/ralo-study/jobs/", {"kind": "prescore"}, format="json")
    assert response.status_code == 409
    assert error_of(response)["code"] == "model_state" and "no model version" in error_of(response)["message"]
    assert owner.get(f"{API}/studies/ralo-study/model-versions/").json()["count"] == 0
    assert not ModelJob.objects.exists()


def test_missing_weights_fail_the_job_with_the_reason_not_the_request(
    study, owner, settings, tmp_path, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.undo()  # the real loading path, not the stand-in backbone
    settings.SCORING_XRV_CACHE_DIR = str(tmp_path / "empty")
    job = start_and_run(owner, django_capture_on_commit_callbacks, {"kind": "prescore"})
    assert job["status"] == "failed" and OFFICIAL_FILE in job["error"] and str(tmp_path / "empty") in job["error"]
    assert job["finished_at"] and not Prediction.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "train"}, "kind"),
        ({"kind": "retrain"}, "feature_set"),
        ({"kind": "retrain", "feature_set": "pixels"}, "feature_set"),
        ({"kind": "retrain", "feature_set": "none", "ridge_alpha": 0}, "ridge_alpha"),
        ({"kind": "retrain", "feature_set": "none", "ridge_alpha": -1.5}, "ridge_alpha"),
        ({"kind": "retrain", "feature_set": "none", "model_version": 1}, "model_version"),
        ({"kind": "prescore", "model_version": 7}, "model_version"),
        ({"kind": "prescore", "model_version": 0}, "model_version"),
        ({"kind": "prescore", "feature_set": "none"}, "feature_set"),
    ],
    ids=lambda value: str(value),
)
def test_job_input_is_checked_before_anything_starts(study, owner, body, field):
    response = owner.post(f"{API}/studies/cxr/jobs/", body, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid" and field in error["fields"]
    assert not ModelJob.objects.exists()


def test_jobs_list_filters_by_kind_and_status_and_orders(study, owner, django_capture_on_commit_callbacks):
    done = start_and_run(owner, django_capture_on_commit_callbacks, {"kind": "prescore"})
    queued = owner.post(f"{API}/studies/cxr/jobs/", {"kind": "retrain", "feature_set": "none"}, format="json").json()

    def ids(query: str) -> list[int]:
        return [job["id"] for job in owner.get(f"{API}/studies/cxr/jobs/{query}").json()["results"]]

    assert ids("") == [queued["id"], done["id"]]  # newest first
    assert ids("?ordering=created_at") == [done["id"], queued["id"]]
    assert ids("?kind=retrain") == [queued["id"]] and ids("?status=done") == [done["id"]]
    assert ids("?kind=prescore&status=queued") == []
    assert error_of(owner.get(f"{API}/studies/cxr/jobs/?status=lost"))["code"] == "invalid"


def test_another_studys_job_and_version_are_404(study, owner, personas):
    other = study_create(owner=personas["alice"], slug="other", title="Other", rubric="cohen2020")
    job = model_job_start(study=other, kind="prescore", dispatch=False)
    assert owner.get(f"{API}/studies/other/jobs/{job.pk}/").status_code == 200
    assert owner.get(f"{API}/studies/cxr/jobs/{job.pk}/").status_code == 404
    assert owner.get(f"{API}/studies/cxr/model-versions/9/").status_code == 404
    assert owner.post(f"{API}/studies/cxr/model-versions/9/activate/").status_code == 404


@pytest.mark.parametrize("name", ["rater1", "olivia", "oscar"])
def test_no_one_but_the_owner_starts_a_job_or_activates_a_version(study, personas, name):
    client = api_client(personas[name])
    for body in ({"kind": "prescore"}, {"kind": "retrain", "feature_set": "none"}):
        assert client.post(f"{API}/studies/cxr/jobs/", body, format="json").status_code == 404
    assert client.post(f"{API}/studies/cxr/model-versions/1/activate/").status_code == 404
    assert not ModelJob.objects.exists()


# --- the study's model settings ------------------------------------------------------------------


def test_owner_sets_model_assistance_and_auto_promote_observer_reads_them(study, owner, personas):
    assert owner.get(f"{API}/studies/cxr/").json()["model_assistance"] == "none"
    response = owner.patch(f"{API}/studies/cxr/", {"model_assistance": "shown", "auto_promote": True}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["model_assistance"], response.json()["auto_promote"]) == ("shown", True)
    study.refresh_from_db()
    assert (study.model_assistance, study.auto_promote, study.title) == ("shown", True, "CXR")
    seen = api_client(personas["olivia"]).get(f"{API}/studies/cxr/").json()
    assert (seen["model_assistance"], seen["auto_promote"]) == ("shown", True)
    assert (
        api_client(personas["olivia"]).patch(f"{API}/studies/cxr/", {"auto_promote": False}, format="json").status_code
        == 404
    )


def test_model_assistance_is_fixed_once_the_study_opens_auto_promote_is_not(study, owner):
    Study.objects.filter(pk=study.pk).update(status="open")
    refused = owner.patch(f"{API}/studies/cxr/", {"model_assistance": "shown", "title": "Renamed"}, format="json")
    assert refused.status_code == 409 and error_of(refused)["code"] == "study_state"
    study.refresh_from_db()
    assert (study.model_assistance, study.title) == ("none", "CXR")  # nothing of the request stored
    assert owner.patch(f"{API}/studies/cxr/", {"auto_promote": True}, format="json").json()["auto_promote"] is True
    assert (
        owner.patch(f"{API}/studies/cxr/", {"model_assistance": "none"}, format="json").status_code == 200
    )  # unchanged
    assert (
        error_of(owner.patch(f"{API}/studies/cxr/", {"model_assistance": "always"}, format="json"))["code"] == "invalid"
    )


# --- blinding ------------------------------------------------------------------------------------


def _numbers(value) -> list[float]:
    """Every non-integer number in a JSON document (predictions are floats; a rater's scores are not)."""
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    return [value] if isinstance(value, float) else []


def test_in_an_unaided_study_no_api_answer_to_a_rater_carries_a_model_value(
    study, owner, personas, django_capture_on_commit_callbacks
):
    start_and_run(owner, django_capture_on_commit_callbacks, {"kind": "prescore"})
    start_and_run(owner, django_capture_on_commit_callbacks, {"kind": "retrain", "feature_set": "none"})
    Study.objects.filter(pk=study.pk).update(status="open")
    assert Study.objects.get(pk=study.pk).model_assistance == "none"
    predicted = {v for values in Prediction.objects.values_list("values", flat=True) for v in values.values()}
    assert len(predicted) > 1

    client = api_client(personas["rater1"])
    own = study.assignments.filter(rater__username="rater1")
    job = ModelJob.objects.filter(study=study).first()
    paths = [
        "/auth/me/",
        "/studies/",
        "/studies/cxr/",
        "/studies/cxr/queue/next/",
        "/studies/cxr/queue/mine/",
        "/studies/cxr/model-versions/",
        "/studies/cxr/model-versions/1/",
        "/studies/cxr/model-versions/2/",
        f"/studies/cxr/jobs/{job.pk}/",
        "/studies/cxr/jobs/",
        "/studies/cxr/predictions/",
        "/studies/cxr/exports/predictions.csv",
    ]
    for assignment in own:
        paths += [f"/assignments/{assignment.public_id}/", f"/assignments/{assignment.public_id}/ratings/"]
    answers = [(path, client.get(API + path)) for path in paths]
    answers.append(("POST jobs/", client.post(f"{API}/studies/cxr/jobs/", {"kind": "prescore"}, format="json")))
    answers.append(("POST activate", client.post(f"{API}/studies/cxr/model-versions/2/activate/")))
    for path, response in answers:
        assert response.status_code in (200, 204, 404), path  # 204: rater1 has scored every case
        if "/model-versions/" in path or "/jobs/" in path or "predictions" in path or path.startswith("POST"):
            assert response.status_code == 404, path
        body = response.content.decode().lower()
        for word in ("predict", "pre-score", "prescore", "model_version", "coefficients", "metrics"):
            assert word not in body, f"{path} mentions {word!r}"
        if response.content:
            assert not set(_numbers(response.json())) & predicted, f"{path} carries a predicted value"
        for header in response.headers.values():
            assert not any(str(value) in header for value in predicted), path
