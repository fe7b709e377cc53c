"""Telling workers about jobs, without letting a broker outage fail the request that created them.

Tasks are sent by name: the web process never imports worker code (and so never torch), and this
module knows no app. A broker error is logged, not raised: the job row stays QUEUED and
`jobs_requeue` (core/jobs.py) sends it again later.
"""

import logging

from celery import current_app
from celery.utils.imports import symbol_by_name
from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def send_now(task_name: str, **kwargs) -> bool:
    """Send a task; on a broker error log it and return False (the job stays QUEUED for requeue)."""
    if current_app.conf.task_always_eager:  # tests, and CELERY_TASK_ALWAYS_EAGER=1: run it here
        symbol_by_name(task_name).apply_async(kwargs=kwargs)
        return True
    try:  # by name: this process need not import the task's module (nor torch)
        current_app.send_task(task_name, kwargs=kwargs)
    except (OperationalError, OSError):
        # kombu wraps redis/socket errors in OperationalError once its publish retries are spent.
        logger.warning(
            "broker unavailable: %s%r not sent; `manage.py requeue_jobs` sends it later",
            task_name,
            kwargs,
            exc_info=True,
        )
        return False
    return True


def send_after_commit(task_name: str, **kwargs) -> None:
    """Send a task once the current transaction commits (so the worker finds the row); never raises
    for a broker outage."""
    transaction.on_commit(lambda: send_now(task_name, **kwargs))
