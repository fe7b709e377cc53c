"""A real Celery worker process, on the configured broker (Redis in CI), imports a web upload."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from annotation.models import ImportJob
from annotation.services import import_job_create
from config.celery import app as celery_app
from tests.conftest import png_bytes

ROOT = Path(__file__).resolve().parent.parent


def _database_url_of_test_db() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(settings, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_of_test_db(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "VAR_DIR": str(settings.VAR_DIR),
    }
    log = open(tmp_path / "worker.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", "default", "--loglevel=INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_process_imports_an_upload_after_commit(make_study, personas, worker, tmp_path, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # Celery reads Django's settings on each access
    assert celery_app.conf.task_always_eager is False
    study = make_study(n_cases=0, open_it=False)
    uploads = [
        SimpleUploadedFile("a.png", png_bytes(101)),
        SimpleUploadedFile("b.png", png_bytes(102)),
        SimpleUploadedFile("broken.png", b"\x89PNG\r\n\x1a\nnot really"),
    ]
    job = import_job_create(study=study, user=personas["alice"], files=uploads)

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and worker.poll() is None:
        job.refresh_from_db()
        if job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
            break
        time.sleep(0.5)
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert job.status == ImportJob.Status.DONE, f"worker did not finish the job; its log:\n{log[-4000:]}"
    assert job.counts() == {"imported": 2, "duplicate": 0, "rejected": 1}
    assert sorted(study.cases.values_list("original_filename", flat=True)) == ["a.png", "b.png"]
    assert "annotation.tasks.import_job_run" in log and "succeeded" in log
