"""A real Celery worker process, on the configured broker (Redis in CI), imports a web upload."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import ImportJob
from annotation.services import import_job_create
from config.celery import app as celery_app
from tests.conftest import png_bytes, wait_until


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_process_imports_an_upload_after_commit(make_study, personas, start_worker, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # Celery reads Django's settings on each access
    assert celery_app.conf.task_always_eager is False
    worker, log_path = start_worker("default")
    study = make_study(n_cases=0, open_it=False)
    uploads = [
        SimpleUploadedFile("a.png", png_bytes(101)),
        SimpleUploadedFile("b.png", png_bytes(102)),
        SimpleUploadedFile("broken.png", b"\x89PNG\r\n\x1a\nnot really"),
    ]
    job = import_job_create(study=study, user=personas["alice"], files=uploads)

    def finished() -> bool:
        job.refresh_from_db()
        return job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED) or worker.poll() is not None

    wait_until(finished)
    log = log_path.read_text(errors="replace")
    assert job.status == ImportJob.Status.DONE, f"worker did not finish the job; its log:\n{log[-4000:]}"
    assert job.counts() == {"imported": 2, "duplicate": 0, "rejected": 1}
    assert sorted(study.cases.values_list("original_filename", flat=True)) == ["a.png", "b.png"]
    # The job is DONE in the database a moment before the worker logs the task's end: wait for it.
    wait_until(lambda: "succeeded" in log_path.read_text(errors="replace"), timeout=30)
    log = log_path.read_text(errors="replace")
    assert "annotation.tasks.import_job_run" in log and "succeeded" in log
