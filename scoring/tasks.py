"""Celery tasks: thin, idempotent, take ids, call one service."""

from celery import shared_task

from scoring.services import agreement_report_execute


@shared_task(acks_late=True)
def agreement_report_run(*, report_id: int) -> None:
    """Compute a cached agreement report; a second delivery finds it claimed and does nothing."""
    agreement_report_execute(report_id=report_id)
