"""Celery tasks: thin, idempotent, take ids, call one service. Model tasks run on the `model` queue
(config/settings.py CELERY_TASK_ROUTES); acks_late with reject_on_worker_lost (settings) means a
worker killed mid-task gets the task redelivered, and the services resume from what was stored.

The web process sends these by name (core/dispatch.py) and never imports this module: the model
services it calls load torch."""

from celery import shared_task

from annotation.models import Study
from scoring.services.agreement import agreement_report_execute
from scoring.services.prescore import prescore_execute
from scoring.services.queue_order import study_queues_order
from scoring.services.retrain import retrain_execute


@shared_task(acks_late=True)
def agreement_report_run(*, report_id: int) -> None:
    """Compute a cached agreement report; a second delivery finds it claimed and does nothing."""
    agreement_report_execute(report_id=report_id)


@shared_task(acks_late=True)
def prescore_study(*, job_id: int) -> None:
    """Pre-score a study's cases with the job's model version; resumes after a lost worker."""
    prescore_execute(job_id=job_id)


@shared_task(acks_late=True)
def retrain_study(*, job_id: int) -> None:
    """Evaluate and fit a new head on the raters' consensus; one per study at a time."""
    retrain_execute(job_id=job_id)


@shared_task(acks_late=True)
def study_queues_order_run(*, study_id: int) -> None:
    """Put the raters' queues in the study's queue order (sent when the setting or the queues
    change); idempotent, so a second delivery changes nothing."""
    study = Study.objects.filter(pk=study_id).first()
    if study is not None:
        study_queues_order(study=study)
