"""Model jobs on a real Celery worker process (queue `model`): pre-score, retrain, re-score from the
cache with progress on the job model; a worker killed mid-retrain leaves the active model as it was
and the task completes when it is delivered again."""

import signal

import pytest

from scoring.models import BackboneOutput, ModelJob, ModelVersion, Prediction
from scoring.services import model_job_start
from scoring.tasks import retrain_study
from tests.conftest import rated_chest_study, wait_until

N_KILL = 24


def _finished(job: ModelJob, log_path) -> ModelJob:
    seen = []

    def done() -> bool:
        job.refresh_from_db()
        seen.append((job.phase, job.done, job.total))
        return not job.is_active

    assert wait_until(done, timeout=240), f"job {job.pk} did not finish: {seen[-3:]}\n{log_path.read_text()[-3000:]}"
    assert job.status == "done", f"{job.error}\n{log_path.read_text()[-3000:]}"
    return job


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_prescores_retrains_and_rescores_from_the_cache(personas, settings, start_worker, xrv_weights_dir):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    _, log_path = start_worker("model", SCORING_XRV_CACHE_DIR=str(xrv_weights_dir), SCORING_BATCH_SIZE="2")
    study = rated_chest_study(personas, slug="wa", n=6, prefix="wa")

    job = _finished(model_job_start(study=study, kind="prescore"), log_path)
    assert (job.phase, job.done, job.total) == ("done", 6, 6)  # progress lives on the job model
    assert Prediction.objects.filter(case__study=study).count() == 6
    outputs = BackboneOutput.objects.count()

    retrain = _finished(model_job_start(study=study, kind="retrain", feature_set="four_outputs"), log_path)
    v2 = ModelVersion.objects.get(study=study, number=2)
    assert retrain.model_version == v2 and set(v2.metrics) == {"candidate", "none", "active"}

    _finished(model_job_start(study=study, kind="prescore", model_version=v2), log_path)
    assert Prediction.objects.filter(model_version=v2).count() == 6
    assert BackboneOutput.objects.count() == outputs  # re-scored from the cached outputs
    assert "scoring.tasks.prescore_study" in log_path.read_text()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_retrain_leaves_active_model_and_the_retry_completes(
    personas, settings, start_worker, xrv_weights_dir
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # One image per backbone pass, stored as it goes: the kill lands mid-phase.
    env = {"SCORING_XRV_CACHE_DIR": str(xrv_weights_dir), "SCORING_BATCH_SIZE": "1", "SCORING_CHUNK_SIZE": "1"}
    worker, log_path = start_worker("model", **env)
    study = rated_chest_study(personas, slug="wk", n=N_KILL, first_seed=100, prefix="wk")
    job = model_job_start(study=study, kind="retrain", feature_set="lung_opacity")
    outputs = BackboneOutput.objects.filter(image__cases__study=study)
    assert wait_until(lambda: outputs.exists(), timeout=120, interval=0.05), log_path.read_text()[-3000:]
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)

    job.refresh_from_db()
    assert job.status == "running" and job.phase == "backbone"
    assert list(ModelVersion.objects.filter(study=study).values_list("number", "is_active")) == [(1, True)]

    # The broker delivers an unacknowledged task again (acks_late); here we send it again ourselves.
    _, log_path = start_worker("model", **env)
    retrain_study.delay(job_id=job.pk)
    job = _finished(job, log_path)
    assert job.attempts == 2
    assert list(ModelVersion.objects.filter(study=study).values_list("number", "is_active")) == [(1, True), (2, False)]
    assert outputs.count() == N_KILL
