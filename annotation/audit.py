"""The audit trail: one AuditEvent per change, written inside the service's own transaction."""

import io
import json

from annotation.models import AuditEvent, Study
from core.spreadsheet import safe_writer

Action = AuditEvent.Action
AUDIT_CSV_COLUMNS = ["created_at", "actor", "action", "target", "details"]


def audit_record(
    *, study: Study | int, actor, action: str, target: object = "", details: dict | None = None
) -> AuditEvent:
    """Record one event. Call it inside the transaction of the change it describes, so that a
    change that rolls back leaves no event and an event never describes a change that did not happen."""
    study_id = study if isinstance(study, int) else study.pk
    actor_id = actor if isinstance(actor, int) or actor is None else actor.pk
    return AuditEvent.objects.create(
        study_id=study_id, actor_id=actor_id, action=action, target=str(target)[:200], details=details or {}
    )


def audit_csv_export(*, study: Study) -> str:
    """The study's trail as CSV, oldest first (for owners: it names raters)."""
    out = io.StringIO()
    writer = safe_writer(out)
    writer.writerow(AUDIT_CSV_COLUMNS)
    events = study.audit_events.select_related("actor").order_by("created_at", "pk")
    for event in events.iterator(chunk_size=2000):
        writer.writerow(
            [
                event.created_at.isoformat(),
                event.actor.username if event.actor else "",
                event.action,
                event.target,
                json.dumps(event.details, sort_keys=True),
            ]
        )
    return out.getvalue()
