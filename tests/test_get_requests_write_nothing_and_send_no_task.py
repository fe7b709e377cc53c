"""Every URL of the site and the API, asked with GET by every persona (and the admin's pages by a
superuser): no statement that writes, no row count changed, no task sent or queued to send; the
one exception is the audit trail's record of an export (AUDIT_INSERT below).

The study holds jobs QUEUED for an hour (any page that re-sent jobs would be caught), a
model-assisted study with a prediction and a saliency map for the rater's aided read, and a
cohen2020 study with no model version yet (a page that made version 1 would be caught).
"""

from datetime import timedelta

import pytest
from celery import Celery
from celery.app.task import Task
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation.ingest import Source
from annotation.models import Assignment, AuditEvent, ImportJob, Study
from annotation.services import images_import, member_add, membership_add, study_create, study_open, study_update
from scoring.models import AgreementReport, ModelJob, ModelVersion, Prediction, SaliencyMap
from scoring.services import model_version_ensure_initial
from tests.conftest import png_bytes
from tests.security_support import rich_study_create
from tests.test_security_blinding_sweep_every_url_and_operation import _fill, _fillers, _templates

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
# The one exception: an export (a GET that downloads a CSV) records who took it in the audit trail,
# since who took data out of a study is what an audit is for. Only that INSERT, only export events
# (checked after the walk), and nothing else changes.
AUDIT_INSERT = f'INSERT INTO "{AuditEvent._meta.db_table}"'


@pytest.fixture
def world(personas):
    rich = rich_study_create(personas)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    for model in (ImportJob, ModelJob):
        model.objects.filter(study=rich.study).update(status="queued", created_at=an_hour_ago)
    AgreementReport.objects.create(study=rich.study, ratings_version=999, n_boot=10)
    AgreementReport.objects.filter(study=rich.study).update(created_at=an_hour_ago)
    aided = _aided_study(personas)
    study_create(owner=personas["alice"], slug="fresh", title="No model yet", rubric="cohen2020")
    fillers = _fillers(rich)
    aided_reads = list(aided.assignments.values_list("public_id", flat=True))
    for name in ("public_id", "assignment_id"):
        fillers[name] = fillers[name] + aided_reads
    fillers["slug"] = [*fillers["slug"], aided.slug, "fresh"]
    # A link that works: opening it shows the set-password form and writes nothing.
    invited = member_add(study=aided, name="newcomer", role="observer", actor=personas["alice"], base_url="http://x")
    uidb64, token = invited.invitation_link.rstrip("/").split("/")[-2:]
    fillers["uidb64"], fillers["token"] = [uidb64, *fillers["uidb64"]], [token, *fillers["token"]]
    return fillers


def _aided_study(personas) -> Study:
    """rater1 reads aided: the page carries the pre-score, the saliency URL serves a stored map."""
    study = study_create(owner=personas["alice"], slug="aided", title="Aided", rubric="cohen2020", raters_per_case=1)
    study_update(study=study, title="Aided", rubric="cohen2020", raters_per_case=1, model_assistance="shown")
    membership_add(study=study, user=personas["rater1"], role="rater")
    images_import(study=study, sources=[Source(name="a.png", where="a.png", data=png_bytes(700))])
    study_open(study=study)
    version = model_version_ensure_initial(study=study)
    case = study.cases.get()
    Prediction.objects.create(case=case, model_version=version, values={"geographic_extent": 3.2, "opacity": 2.1})
    name = default_storage.save("saliency/test.png", ContentFile(png_bytes(701)))
    SaliencyMap.objects.create(case=case, model_version=version, target="geographic_extent", image=name)
    assert Assignment.objects.filter(study=study, aided=True).exists()
    return study


def _row_counts() -> dict[str, int]:
    models = [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy]
    tables = sorted({m._meta.db_table for m in models})
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(f'(SELECT COUNT(*) FROM "{t}")' for t in tables))
        return dict(zip(tables, cursor.fetchone(), strict=True))


@pytest.fixture
def sent(monkeypatch):
    """Every task sent, eagerly run or published by name, from here on."""
    calls = []
    original_apply, original_send = Task.apply_async, Celery.send_task

    def apply_async(task, *args, **kwargs):
        calls.append(task.name)
        return original_apply(task, *args, **kwargs)

    def send_task(app, name, *args, **kwargs):
        calls.append(name)
        return original_send(app, name, *args, **kwargs)

    monkeypatch.setattr(Task, "apply_async", apply_async)
    monkeypatch.setattr(Celery, "send_task", send_task)
    return calls


def _clients(personas) -> dict[str, Client]:
    root = get_user_model().objects.create_superuser("root", password="x")
    clients = {"anonymous": Client()}
    for name, user in [*((n, personas[n]) for n in ("alice", "rater1", "olivia", "oscar", "cora")), ("root", root)]:
        clients[name] = Client()
        clients[name].force_login(user)
    return clients


def test_no_get_writes_a_row_or_sends_a_task(world, personas, sent, django_capture_on_commit_callbacks):
    clients = _clients(personas)
    urls = [url for template in _templates() for url in _fill(template, world)]
    assert len(urls) > 300
    before, problems, answered = _row_counts(), [], set()
    exports = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT)
    exports_before = exports.count()
    for url in urls:
        for persona, client in clients.items():
            connection.queries_log.clear()  # a full log would shift what the context captures
            with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks() as callbacks:
                response = client.get(url)
            answered.add(response.status_code)
            writes = [q["sql"][:120] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)]
            writes = [sql for sql in writes if not sql.lstrip().startswith(AUDIT_INSERT)]
            if writes or callbacks or sent:
                problems.append(f"GET {url} as {persona}: writes {writes}, on-commit {len(callbacks)}, sent {sent}")
                sent.clear()
    assert not problems, "\n".join(problems)
    after, audit_table = _row_counts(), AuditEvent._meta.db_table
    assert exports.count() > exports_before  # the walk took exports, each recorded
    assert after[audit_table] - before[audit_table] == exports.count() - exports_before  # and nothing else
    assert {**after, audit_table: before[audit_table]} == before
    assert {200, 302, 404} <= answered  # the walk reached pages, redirects and refusals
    assert not ModelVersion.objects.filter(study__slug="fresh").exists()
