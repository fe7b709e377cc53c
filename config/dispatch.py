"""Telling workers about jobs, without letting a broker outage fail the request that created them.

A job row (ImportJob, ModelJob, AgreementReport) is the truth; the Celery message only says "look
at job N". So when the broker is down the job stays QUEUED in the database and is sent again later
by `jobs_requeue`: from `manage.py requeue_jobs` (cron, or by hand once the broker is back) and,
without any scheduler, when an owner opens the study, model or report page. Every task claims its
job with a conditional update, so a job sent twice runs once.
"""

import logging
from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

# (app_label.Model, task name, the task's keyword). Model jobs alone may be re-sent while RUNNING:
# their claim accepts a RUNNING job and resumes from what was stored (scoring/services/model.py).
JOB_TASKS = [
    ("annotation.ImportJob", "annotation.tasks.import_job_run", "job_id"),
    ("scoring.ModelJob", "scoring.tasks.prescore_study", "job_id"),
    ("scoring.ModelJob", "scoring.tasks.retrain_study", "job_id"),
    ("scoring.AgreementReport", "scoring.tasks.agreement_report_run", "report_id"),
]


def send_now(task, **kwargs) -> bool:
    """Send a task; on a broker error log it and return False (the job stays QUEUED for requeue)."""
    try:
        task.delay(**kwargs)
    except (OperationalError, OSError):
        # kombu wraps redis/socket errors in OperationalError once its publish retries are spent.
        logger.warning("broker unavailable: %s%r not sent; `manage.py requeue_jobs` sends it later", task.name, kwargs,
                       exc_info=True)
        return False
    return True


def send_after_commit(task, **kwargs) -> None:
    """Send a task once the current transaction commits (so the worker finds the row); never raises
    for a broker outage."""
    transaction.on_commit(lambda: send_now(task, **kwargs))


def _stale(model, task_name: str, *, before, include_running: bool, study_id: int | None):
    queued = Q(status="queued", created_at__lt=before)
    if include_running and model._meta.label == "scoring.ModelJob":
        queued |= Q(status="running", started_at__lt=before)
    rows = model.objects.filter(queued)
    if model._meta.label == "scoring.ModelJob":
        rows = rows.filter(kind="prescore" if task_name.endswith("prescore_study") else "retrain")
    if study_id is not None:
        rows = rows.filter(study_id=study_id)
    return list(rows.values_list("pk", flat=True))  # read before sending: an eager task writes


def jobs_requeue(*, older_than_s: float, include_running: bool = False, study_id: int | None = None,
                 throttle: bool = False) -> int:
    """Send again the jobs QUEUED for more than `older_than_s` seconds (with include_running, model
    jobs RUNNING that long: their worker died). Returns how many were sent.

    throttle=True (page views) sends each job at most once per `older_than_s`, per cache, so that a
    job waiting behind a long one is not sent on every page view.
    """
    from django.apps import apps
    from django.utils.module_loading import import_string

    before = timezone.now() - timedelta(seconds=older_than_s)
    sent = 0
    for label, task_name, keyword in JOB_TASKS:
        model, task = apps.get_model(label), import_string(task_name)
        for pk in _stale(model, task_name, before=before, include_running=include_running, study_id=study_id):
            if throttle and not cache.add(f"requeue:{label}:{pk}", 1, timeout=max(1, int(older_than_s))):
                continue
            if not send_now(task, **{keyword: pk}):
                return sent  # the broker is still down: the rest would fail the same way
            sent += 1
    return sent
