"""A worker SIGKILLed while pre-scoring: the job stays RUNNING, the active model is unchanged, and
`manage.py requeue_jobs --include-running` on a fresh worker completes it with one prediction per case."""

import signal

import pytest
from django.core.management import call_command

from scoring.models import BackboneOutput, ModelJob, ModelVersion, Prediction
from scoring.services import model_job_start
from tests.conftest import rated_chest_study, wait_until

N_CASES = 24


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_prescore_retry_completes_with_unique_predictions(
    personas, settings, start_worker, xrv_weights_dir
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    env = {"SCORING_XRV_CACHE_DIR": str(xrv_weights_dir), "SCORING_BATCH_SIZE": "1", "SCORING_CHUNK_SIZE": "1"}
    worker, log_path = start_worker("model", **env)
    study = rated_chest_study(personas, slug="pk", n=N_CASES, first_seed=300, prefix="pk")
    job = model_job_start(study=study, kind=ModelJob.Kind.PRESCORE)
    outputs = BackboneOutput.objects.filter(image__cases__study=study)
    assert wait_until(lambda: outputs.exists(), timeout=120, interval=0.05), log_path.read_text()[-3000:]
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)

    job.refresh_from_db()
    assert job.status == "running" and job.phase == "backbone" and outputs.count() < N_CASES
    assert list(ModelVersion.objects.filter(study=study).values_list("number", "is_active")) == [(1, True)]

    _, log_path = start_worker("model", **env)
    call_command("requeue_jobs", "--older-than", "0", "--include-running")

    def finished() -> bool:
        job.refresh_from_db()
        return not job.is_active

    assert wait_until(finished, timeout=240), log_path.read_text()[-3000:]
    assert job.status == "done" and job.attempts >= 2, f"{job.error}\n{log_path.read_text()[-3000:]}"
    predicted = list(Prediction.objects.filter(case__study=study).values_list("case_id", "model_version__number"))
    assert len(predicted) == len(set(predicted)) == N_CASES and {number for _, number in predicted} == {1}
    assert outputs.count() == N_CASES
    assert list(ModelVersion.objects.filter(study=study).values_list("number", "is_active")) == [(1, True)]
