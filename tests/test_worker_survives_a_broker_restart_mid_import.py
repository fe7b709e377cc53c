"""A Redis restart in the middle of an import (the report that led to this: a 93-image import stopped
at 9 and stayed RUNNING for good). A real Celery worker (prefork, as deployed) on a Redis server of
the test's own is importing; Redis is killed and started again; the worker cancels the task it
could no longer acknowledge, and the job is left RUNNING with part of its report. `requeue_jobs
--include-running` sends it again and the job completes: DONE, every file imported exactly once.
"""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import ImportJob
from annotation.services import import_job_create, imports
from tests.conftest import png_bytes, wait_until

ROOT = Path(__file__).resolve().parent.parent
# Enough that the import is still going when the broker has been down for two seconds, also on a
# busy machine (CI once saw 40 images finish first).
N_IMAGES = 80

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    def __init__(self, folder: Path):
        self.port, self.folder, self.process = _free_port(), folder, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, cwd=self.folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_until(self._answers, timeout=20, interval=0.1), "redis-server did not start"

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.kill()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_import_cut_by_a_redis_restart_completes_after_requeue_each_file_once(
    make_study, personas, start_worker, settings, redis_server, monkeypatch
):
    study = make_study(n_cases=0, open_it=False)
    # Large enough that importing 40 takes seconds: the restart lands in the middle.
    uploads = [SimpleUploadedFile(f"img-{i:02d}.png", png_bytes(800 + i, size=(1400, 1400))) for i in range(N_IMAGES)]
    monkeypatch.setattr(imports, "job_dispatch", lambda job: None)  # sent below, to our Redis
    job = import_job_create(study=study, user=personas["alice"], files=uploads)
    worker, log_path = start_worker("default", pool="prefork", CELERY_BROKER_URL=redis_server.url)

    def requeue(*flags: str) -> None:
        command = [sys.executable, "manage.py", "requeue_jobs", "--older-than", "0", *flags]
        result = subprocess.run(
            command, cwd=ROOT, env=start_worker.env(CELERY_BROKER_URL=redis_server.url), capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert "1 job(s) sent" in result.stdout, result.stdout

    requeue()

    def progressed() -> bool:
        job.refresh_from_db()
        return job.done >= 3 or worker.poll() is not None

    assert wait_until(progressed, timeout=120, interval=0.05)
    redis_server.kill()
    time.sleep(2)  # the worker notices the lost connection and cancels the task it cannot acknowledge
    redis_server.start()
    job.refresh_from_db()
    log = log_path.read_text(errors="replace")
    assert job.status == ImportJob.Status.RUNNING and job.done < N_IMAGES, f"not interrupted:\n{log[-3000:]}"
    interrupted_at = job.done
    time.sleep(3)  # the task stays cancelled: the job does not move on by itself
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING and job.done == interrupted_at, log_path.read_text()[-3000:]

    requeue("--include-running")

    def finished() -> bool:
        job.refresh_from_db()
        return job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED) or worker.poll() is not None

    assert wait_until(finished, timeout=180)
    log = log_path.read_text(errors="replace")
    assert job.status == ImportJob.Status.DONE, f"{job.error}\n{log[-3000:]}"
    names = [row["name"] for row in job.report]
    assert names == [f"img-{i:02d}.png" for i in range(N_IMAGES)], names  # each file once, in order
    assert job.counts() == {"imported": N_IMAGES, "duplicate": 0, "rejected": 0}
    assert study.cases.count() == N_IMAGES and job.attempts == 2
