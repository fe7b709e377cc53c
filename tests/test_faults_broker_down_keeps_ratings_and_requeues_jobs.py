"""The broker (Redis) down while raters submit and the owner starts jobs: ratings are saved (a rating
sends no task), every job is created QUEUED and no page fails; once a broker is back,
`manage.py requeue_jobs` (or beat's periodic task) sends them again and a real worker completes them."""

import io
import shutil
import socket
import subprocess
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from annotation.models import Assignment, ImportJob, Rating
from config.celery import app as celery_app
from scoring.models import AgreementReport, ModelJob, Prediction
from tests.api_support import API, api_client
from tests.conftest import COHEN_VALUES, png_bytes, wait_until


def _free_port() -> int:
    with socket.socket() as probe:  # nothing listens once it is closed
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _use_broker(settings, monkeypatch, url: str) -> None:
    """Point the sending side at another broker: settings are read live, the connection pool is not,
    and Celery prefers the CELERY_BROKER_URL environment variable (set in CI) to settings."""
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    settings.CELERY_BROKER_URL = url
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    # Bounded: a publish gives up after one quick retry instead of waiting on the dead port.
    settings.CELERY_TASK_PUBLISH_RETRY_POLICY = {
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.1,
        "interval_max": 0.1,
    }
    settings.CELERY_BROKER_CONNECTION_MAX_RETRIES = 1
    settings.CELERY_BROKER_CONNECTION_TIMEOUT = 2
    celery_app._pool = None  # not closed: kombu's global producer pools may still hand it out per URL
    celery_app.amqp._producer_pool = None


@pytest.fixture
def own_redis():
    """A throwaway redis-server on a free loopback port (never the shared one), stopped at the end."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    assert wait_until(up, timeout=10, interval=0.05), "redis-server did not start"
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def restore_sender():
    yield
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_broker_down_ratings_saved_jobs_queued_then_requeued_and_completed(
    make_study,
    personas,
    client_for,
    settings,
    monkeypatch,
    start_worker,
    own_redis,
    restore_sender,
    tmp_path,
    xrv_weights_dir,
):
    study = make_study(n_cases=4)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    _use_broker(settings, monkeypatch, f"redis://127.0.0.1:{_free_port()}/0")

    # Raters submit: saved, and quickly (a rating sends no task, so the dead broker is never asked).
    rater = api_client(personas["rater1"])
    own = list(Assignment.objects.filter(study=study, rater=personas["rater1"]).values_list("public_id", flat=True))
    started = time.monotonic()
    for public_id in own:
        assert (
            rater.post(f"{API}/assignments/{public_id}/ratings/", {"values": COHEN_VALUES}, format="json").status_code
            == 201
        )
    assert time.monotonic() - started < 10
    assert Rating.objects.filter(assignment__study=study).count() == len(own) == 4

    # The owner starts an import, a pre-score and a report: no 500, each job QUEUED in the database.
    alice = client_for("alice")
    upload = alice.post(f"/studies/{study.slug}/upload/", {"files": [SimpleUploadedFile("new.png", png_bytes(77))]})
    assert upload.status_code == 302
    assert alice.post(f"/studies/{study.slug}/model/prescore/").status_code == 302
    assert alice.post(f"/studies/{study.slug}/report/compute/").status_code == 302
    for page in (f"/studies/{study.slug}/", f"/studies/{study.slug}/model/", f"/studies/{study.slug}/report/"):
        assert alice.get(page).status_code == 200
    import_job, model_job = ImportJob.objects.get(study=study), ModelJob.objects.get(study=study)
    report = AgreementReport.objects.get(study=study)
    assert [import_job.status, model_job.status, report.status] == ["queued"] * 3
    call_command("requeue_jobs", "--older-than", "0", stdout=(out := io.StringIO()))  # still down: nothing raised
    assert out.getvalue().startswith("0 job(s)")

    # The broker is back: requeue, and a real worker runs all three.
    _use_broker(settings, monkeypatch, own_redis)
    _, log_path = start_worker("default,model", SCORING_XRV_CACHE_DIR=str(xrv_weights_dir))
    call_command("requeue_jobs", "--older-than", "0")

    def all_done() -> bool:
        return all(
            job.__class__.objects.get(pk=job.pk).status in ("done", "failed") for job in (import_job, model_job, report)
        )

    assert wait_until(all_done, timeout=240), log_path.read_text(errors="replace")[-4000:]
    for job in (import_job, model_job, report):
        job.refresh_from_db()
        assert job.status == "done", (job, getattr(job, "error", ""), log_path.read_text(errors="replace")[-3000:])
    assert import_job.counts()["imported"] == 1
    predicted = list(Prediction.objects.filter(case__study=study).values_list("case_id", flat=True))
    assert len(predicted) == len(set(predicted)) == model_job.result["cases"]  # 4 or 5: the import may run first
    assert Rating.objects.filter(assignment__study=study).count() == 4


@pytest.mark.django_db(transaction=True)
def test_the_periodic_requeue_resends_only_jobs_queued_longer_than_the_delay_and_once(make_study, settings):
    from datetime import timedelta

    from django.core.cache import cache
    from django.utils import timezone

    from core.tasks import jobs_requeue_stale

    cache.clear()  # each job is sent at most once per delay, remembered in the cache
    study = make_study(n_cases=3)
    settings.JOB_REQUEUE_AFTER_S = 60
    stale = AgreementReport.objects.create(study=study, ratings_version=1000, n_boot=10, seed=0)
    fresh = AgreementReport.objects.create(study=study, ratings_version=1001, n_boot=10, seed=0)
    AgreementReport.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert jobs_requeue_stale() == 1  # eager: the report runs inline
    stale.refresh_from_db(), fresh.refresh_from_db()
    assert (stale.status, fresh.status) == ("done", "queued")
    AgreementReport.objects.filter(pk=fresh.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert jobs_requeue_stale() == 1  # now stale too; the done one is not sent again
    fresh.refresh_from_db()
    assert fresh.status == "done"
