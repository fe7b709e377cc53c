"""The audit trail: one AuditEvent per change, written inside the service's own transaction.

Besides the changes, the trail records the coordinator's acts that change nothing in the study but
matter to it: creating it, each import (images, ratings) and each export, by whom and how much.
"""

import csv
import io
import json
from collections.abc import Iterable, Mapping

from annotation.models import AuditEvent, Study
from annotation.rubrics import Rubric
from annotation.selectors import study_audit_events
from core.prepared import row_insert
from core.spreadsheet import safe_writer

Action = AuditEvent.Action
AUDIT_CSV_COLUMNS = ["created_at", "actor", "action", "target", "filename", "details"]
# Details shown in their own way (before/after) or not worth a line on the page.
_SHOWN_APART = {"before", "after", "assignment"}
_DETAIL_LABELS = {
    "reading_time_s": "reading time",
    "was_flagged": "flagged before",
    "allow_missing_images": "unknown images allowed",
}


def audit_record(
    *, study: Study | int, actor, action: str, target: object = "", details: dict | None = None
) -> AuditEvent:
    """Record one event. Call it inside the transaction of the change it describes, so that a
    change that rolls back leaves no event and an event never describes a change that did not happen."""
    study_id = study if isinstance(study, int) else study.pk
    actor_id = actor if isinstance(actor, int) or actor is None else actor.pk
    event = AuditEvent(
        study_id=study_id, actor_id=actor_id, action=action, target=str(target)[:200], details=details or {}
    )
    return row_insert(event)  # one per save of every rater: its statement built once


def audit_export(*, study: Study, actor, export: str, text: str | None = None, via: str = "web") -> AuditEvent:
    """Record that `actor` (None: the command line) took an export of the study: which one and, for a
    CSV `text`, how many data rows. Called by the export views, which answer a GET: this row is the
    one write a GET may make (tests/test_get_requests_write_nothing_and_send_no_task.py), since who
    took data out of the study is what an audit is for."""
    details: dict[str, object] = {"via": via}
    if text is not None:
        details["rows"] = max(0, sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - 1)  # less the header
    return audit_record(study=study, actor=actor, action=Action.EXPORT, target=export, details=details)


def audit_import(*, study: Study, actor, rows: Iterable[Mapping[str, str]], via: str, error: str = "") -> AuditEvent:
    """Record a finished image import from its report rows: how many files were imported, were
    duplicates or were refused, and what the metadata table matched; `error` when it stopped."""
    rows = list(rows)
    counts = {
        status: sum(1 for row in rows if row["status"] == status) for status in ("imported", "duplicate", "rejected")
    }
    details: dict[str, object] = {**counts, "via": via}
    # What the metadata tables did, each different reason once (not one line per unmatched row).
    metadata = dict.fromkeys(row["reason"] for row in rows if row["status"] == "metadata" and row.get("reason"))
    if metadata:
        details["metadata"] = "; ".join(metadata)[:500]
    if error:
        details["error"] = error[:500]
    return audit_record(
        study=study, actor=actor, action=Action.IMPORT, target=f"{sum(counts.values())} file(s)", details=details
    )


def audit_scores(*, values: Mapping[str, object] | None, totals: Mapping[str, object] | None) -> dict | None:
    """A set of scores as the trail keeps it (before/after): the item values and the totals, in one dict."""
    if values is None:
        return None
    return {**values, **(totals or {})}


def audit_changes(*, details: Mapping[str, object], rubric: Rubric | None = None) -> list[str]:
    """An event's details as lines a person reads: one line per value a revision, an adjudication or
    a settings change changed ("Geographic extent, right lung 1 → 2", named by the rubric), a first
    set of scores on one line, "observer → owner" for a role, then the rest on one line."""
    labels = _labels(rubric)
    lines = []
    before, after = details.get("before"), details.get("after")
    if isinstance(before, Mapping) or isinstance(after, Mapping):
        lines += _before_after(before if isinstance(before, Mapping) else None, after, labels)
    if "from" in details and "to" in details:
        lines.append(f"{_show(details['from'])} → {_show(details['to'])}")
    rest = [
        f"{_human(key, labels)}: {_value(key, value)}"
        for key, value in details.items()
        if key not in _SHOWN_APART and key not in ("from", "to")
    ]
    return [*lines, " · ".join(rest)] if rest else lines


def _before_after(before: Mapping | None, after: object, labels: dict[str, str]) -> list[str]:
    after = after if isinstance(after, Mapping) else None
    keys = [key for key in labels if key in (before or {}) or key in (after or {})]
    keys += [key for key in {**(before or {}), **(after or {})} if key not in labels]  # e.g. a setting
    if not keys:
        return []
    if after is None:  # a flag sets the scores aside
        return ["set aside: " + " · ".join(f"{_human(key, labels)} {_show(before.get(key))}" for key in keys)]
    if before is None:  # a first read, a first final score
        return [" · ".join(f"{_human(key, labels)} {_show(after.get(key))}" for key in keys)]
    changed = [key for key in keys if before.get(key) != after.get(key)]
    if not changed:
        return ["scores unchanged"] if any(key in labels for key in keys) else ["nothing changed"]
    return [f"{_human(key, labels)} {_show(before.get(key))} → {_show(after.get(key))}" for key in changed]


def _labels(rubric: Rubric | None) -> dict[str, str]:
    if rubric is None:
        return {}
    items = {item.key: item.label for item in rubric.items}
    return {**items, **{total.key: f"{total.label} (total)" for total in rubric.totals}}


def _human(key: str, labels: dict[str, str]) -> str:
    return labels.get(key) or _DETAIL_LABELS.get(key) or key.replace("_", " ")


def _show(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _value(key: str, value: object) -> str:
    if key == "reading_time_s" and isinstance(value, int | float):
        return f"{value:.1f} s"
    if isinstance(value, Mapping) and all(not isinstance(v, Mapping | list) for v in value.values()):
        return ", ".join(f"{k.replace(' -> ', ' → ')}: {_show(v)}" for k, v in value.items())  # e.g. moves
    if isinstance(value, Mapping | list):
        return json.dumps(value, sort_keys=True)
    return _show(value)


def audit_csv_export(*, study: Study, filters: Mapping[str, object] | None = None) -> str:
    """The study's trail as CSV, oldest first, with each case's filename (for owners: it names raters
    and files). `filters` are those of `selectors.study_audit_events`: the page's export honours them."""
    out = io.StringIO()
    writer = safe_writer(out)
    writer.writerow(AUDIT_CSV_COLUMNS)
    events = study_audit_events(study=study, **(filters or {})).order_by("created_at", "pk")
    for event in events.iterator(chunk_size=2000):
        writer.writerow(
            [
                event.created_at.isoformat(),
                event.actor.username if event.actor else "",
                event.action,
                event.target,
                event.filename or "",
                json.dumps(event.details, sort_keys=True),
            ]
        )
    return out.getvalue()
