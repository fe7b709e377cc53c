import time

from django.core.management.base import CommandError

from scoring.models import ModelJob


def report_job(command, job: ModelJob) -> None:
    """Print how a job ended; a failed job is a CommandError with its reason."""
    job.refresh_from_db()
    if job.status == ModelJob.Status.FAILED:
        raise CommandError(f"{job.get_kind_display()} job {job.pk} failed: {job.error}")
    if job.status == ModelJob.Status.DONE:
        command.stdout.write(command.style.SUCCESS(f"{job.get_kind_display()} job {job.pk} done: {job.result}"))
    else:
        command.stdout.write(f"{job.get_kind_display()} job {job.pk} queued for a worker on the 'model' queue")


def wait_for(job: ModelJob, timeout_s: float) -> ModelJob:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if not job.is_active:
            break
        time.sleep(1)
    return job
