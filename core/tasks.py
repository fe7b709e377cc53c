"""Celery tasks of the core: the periodic requeue of jobs the broker missed."""

from celery import shared_task
from django.conf import settings

from core.jobs import jobs_requeue


@shared_task(acks_late=True)
def jobs_requeue_stale() -> int:
    """Run by Celery beat (CELERY_BEAT_SCHEDULE): jobs still QUEUED after JOB_REQUEUE_AFTER_S are
    sent again. Never on a page view: a GET neither writes nor sends."""
    return jobs_requeue(older_than_s=settings.JOB_REQUEUE_AFTER_S, throttle=True)
