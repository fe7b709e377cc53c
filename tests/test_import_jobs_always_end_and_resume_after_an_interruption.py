"""An import job ends DONE or FAILED, never RUNNING for good: a worker killed mid-import (or a broker
restart that cancels its task) leaves the job RUNNING with the files it handled in its report;
`requeue_jobs --include-running` sends it again and it resumes after them, each file once. Whatever
ends the job, its uploaded files are removed.

In a process of its own the worker's death is simulated by an exception that no `except Exception`
stops (as the signal of a killed child would); tests/test_worker_survives_a_broker_restart_mid_import.py
does it for real with Redis and a Celery worker.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from annotation.models import ImportJob
from annotation.services import import_job_create, imports
from tests.conftest import png_bytes
from tests.test_import_rejects_bad_files_and_keeps_the_rest import media_files, stored_files


class WorkerKilled(BaseException):
    """What a SIGKILL or a cancelled task looks like from inside the task: nothing catches it."""


@pytest.fixture
def study(make_study):
    return make_study(n_cases=0, open_it=False)


def _uploads(count: int) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(f"img-{i:02d}.png", png_bytes(700 + i)) for i in range(count)]


def test_a_job_killed_mid_import_resumes_after_requeue_and_imports_each_file_once(
    settings, personas, study, monkeypatch, django_capture_on_commit_callbacks
):
    real_case_import = imports._case_import
    handled = []

    def dies_on_the_fourth(**kwargs):
        if len(handled) == 3:
            raise WorkerKilled
        handled.append(kwargs["source"].name)
        return real_case_import(**kwargs)

    monkeypatch.setattr(imports, "_case_import", dies_on_the_fourth)
    with pytest.raises(WorkerKilled), django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(study=study, user=personas["alice"], files=_uploads(8))
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.RUNNING  # as a dead worker leaves it
    assert [row["name"] for row in job.report] == handled and job.done == 3
    assert study.cases.count() == 3

    monkeypatch.setattr(imports, "_case_import", real_case_import)
    call_command("requeue_jobs", "--older-than", "0", "--include-running")

    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.error
    names = [row["name"] for row in job.report]
    assert names == [f"img-{i:02d}.png" for i in range(8)]  # each file once, in order
    assert job.counts() == {"imported": 8, "duplicate": 0, "rejected": 0} and job.done == job.total == 8
    assert study.cases.count() == 8 and job.attempts == 2
    assert media_files(settings) == stored_files()  # the upload folder is gone


def test_a_job_whose_database_fails_ends_failed_with_the_reason_and_no_upload_left(
    settings, personas, study, monkeypatch, django_capture_on_commit_callbacks
):
    from django.db import OperationalError

    def database_gone(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(imports, "_case_import", database_gone)
    with django_capture_on_commit_callbacks(execute=True):
        import_job_create(study=study, user=personas["alice"], files=_uploads(2))
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert "OperationalError: server closed the connection unexpectedly" in job.error
    assert media_files(settings) == set()


def test_a_file_that_breaks_the_importer_is_one_rejected_row(
    settings, personas, study, monkeypatch, django_capture_on_commit_callbacks
):
    real_case_import = imports._case_import

    def breaks_on_one(**kwargs):
        if kwargs["source"].name == "img-01.png":
            raise KeyError("something no one foresaw")
        return real_case_import(**kwargs)

    monkeypatch.setattr(imports, "_case_import", breaks_on_one)
    with django_capture_on_commit_callbacks(execute=True):
        import_job_create(study=study, user=personas["alice"], files=_uploads(3))
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.DONE
    assert job.counts() == {"imported": 2, "duplicate": 0, "rejected": 1}
    (row,) = [row for row in job.report if row["status"] == "rejected"]
    assert row["name"] == "img-01.png" and row["reason"] == "could not be imported (KeyError)"


def test_requeue_without_include_running_leaves_a_running_job_alone(personas, study):
    job = ImportJob.objects.create(
        study=study, created_by=personas["alice"], upload_dir="uploads/none", status=ImportJob.Status.RUNNING
    )
    call_command("requeue_jobs", "--older-than", "0")
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING and job.attempts == 0
