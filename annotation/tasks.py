"""Celery tasks: thin, idempotent, take ids, call one service."""

from celery import shared_task

from annotation.services import import_job_execute


@shared_task(acks_late=True)
def import_job_run(*, job_id: int) -> None:
    """Import a web upload. Running it twice is harmless: the job is claimed with a conditional update."""
    import_job_execute(job_id=job_id)
