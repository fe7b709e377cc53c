"""The job lifecycle, written once: queue, claim, progress, finish, requeue.

Every job model extends core.models.Job. A task claims its job with a conditional UPDATE, so a job
sent twice (a redelivery, a requeue) runs once; a job whose kind is `resumable` may be claimed again
while RUNNING, after its worker died, and resumes from what was stored.
"""

from collections.abc import Iterable
from datetime import timedelta
from typing import TypeVar

from django.apps import apps
from django.core.cache import cache
from django.db.models import F, Q
from django.utils import timezone

from core.dispatch import send_after_commit, send_now
from core.models import Job

Status = Job.Status
J = TypeVar("J", bound=Job)


def job_dispatch(*, job: Job) -> None:
    """Tell a worker about a job once the current transaction commits."""
    send_after_commit(job.get_task_name(), **{job.task_kwarg: job.pk})


def job_claim(*, model: type[J], pk: int, select_related: tuple[str, ...] = (), **match) -> J | None:
    """Mark the job RUNNING and return it, or None when another delivery has it (or it ended)."""
    statuses = [Status.QUEUED, Status.RUNNING] if model.resumable else [Status.QUEUED]
    claimed = model.objects.filter(pk=pk, status__in=statuses, **match).update(
        status=Status.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now()
    )
    return model.objects.select_related(*select_related).get(pk=pk) if claimed else None


def job_progress(*, job: Job, done: int, total: int, **fields) -> None:
    """Record progress without touching anything else on the row (a single UPDATE)."""
    type(job).objects.filter(pk=job.pk).update(done=done, total=total, **fields)


def job_finish(*, job: J, error: str = "", fields: Iterable[str] = ()) -> J:
    """End the job: FAILED with the reason when `error` is given, else DONE; also saves `fields`."""
    job.status = Status.FAILED if error else Status.DONE
    job.error, job.finished_at = error, timezone.now()
    job.save(update_fields=["status", "error", "finished_at", *fields])
    return job


def job_models() -> list[type[Job]]:
    return [model for model in apps.get_models() if issubclass(model, Job)]


def jobs_requeue(*, older_than_s: float, include_running: bool = False, throttle: bool = False) -> int:
    """Send again the jobs QUEUED for more than `older_than_s` seconds (the broker was down when
    they were created, or lost them) and, with include_running, the resumable jobs RUNNING that
    long (their worker died). Returns how many were sent.

    throttle=True (the periodic task) sends each job at most once per `older_than_s`, so that a job
    waiting behind a long one is not sent again on every run.
    """
    before = timezone.now() - timedelta(seconds=older_than_s)
    sent = 0
    for model in job_models():
        stale = Q(status=Status.QUEUED, created_at__lt=before)
        if include_running and model.resumable:
            stale |= Q(status=Status.RUNNING, started_at__lt=before)
        for job in list(model.objects.filter(stale).order_by("pk")):  # read first: an eager task writes
            if throttle and not cache.add(
                f"requeue:{model._meta.label}:{job.pk}", 1, timeout=max(1, int(older_than_s))
            ):
                continue
            if not send_now(job.get_task_name(), **{job.task_kwarg: job.pk}):
                return sent  # the broker is still down: the rest would fail the same way
            sent += 1
    return sent
