"""On PostgreSQL the statements of core.prepared are prepared on the server once a connection
(parsed and planned once, then run with each request's values), logged with their values, and not
prepared at all when the settings turn that off (a pooler that pools by transaction)."""

import subprocess
import sys

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from annotation.models import StudyMembership
from core.prepared import PreparedRead, PreparedUpdate


@pytest.fixture
def postgresql(db):
    if connection.vendor != "postgresql":
        pytest.skip("server-side prepared statements are PostgreSQL's (DATABASE_URL=postgres://...)")


def _membership(shape, *, study_id, user_id):
    return StudyMembership.objects.filter(study_id=study_id, user_id=user_id).values("role", "queue_done")


def _bump_done(shape, *, study_id, user_id):
    from django.db.models import F

    return StudyMembership.objects.filter(study_id=study_id, user_id=user_id), {"queue_done": F("queue_done") + 1}


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE from_sql = false")
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def studies(postgresql, make_study):
    return [
        make_study(slug=f"prepared-{i}", n_cases=2 + i, raters=("rater1", "rater2"), raters_per_case=2)
        for i in range(3)
    ]


@pytest.mark.django_db
def test_a_read_is_prepared_once_and_runs_with_each_calls_values(studies, personas):
    read = PreparedRead(_membership, values=("study_id", "user_id"))
    connection.ensure_connection()
    before = _prepared_statements()
    for study in studies:
        for name in ("rater1", "rater2", "alice"):
            values = {"study_id": study.pk, "user_id": personas[name].pk}
            assert read.first(**values) == _membership((), **values).first()
    new = [statement for statement in _prepared_statements() if statement not in before]
    assert len(new) == 1 and "$1" in new[0] and "annotation_studymembership" in new[0]


@pytest.mark.django_db
def test_an_update_is_prepared_and_counts_its_rows(studies, personas):
    update = PreparedUpdate(_bump_done, values=("study_id", "user_id"))
    connection.ensure_connection()
    before = _prepared_statements()
    rater = personas["rater1"]
    for study in studies:
        assert update.run(study_id=study.pk, user_id=rater.pk) == 1
    assert update.run(study_id=studies[0].pk, user_id=personas["oscar"].pk) == 0
    assert list(StudyMembership.objects.filter(user=rater).values_list("queue_done", flat=True)) == [1, 1, 1]
    new = [statement for statement in _prepared_statements() if statement not in before]
    assert len(new) == 1 and new[0].startswith("UPDATE")


@pytest.mark.django_db
def test_the_query_log_shows_the_statement_with_its_values(studies, personas):
    read = PreparedRead(_membership, values=("study_id", "user_id"))
    study, rater = studies[2], personas["rater2"]
    with CaptureQueriesContext(connection) as queries:
        read.first(study_id=study.pk, user_id=rater.pk)
    (logged,) = queries.captured_queries
    assert f'"study_id" = {study.pk}' in logged["sql"] and f'"user_id" = {rater.pk}' in logged["sql"]


@pytest.mark.django_db
def test_a_rolled_back_transaction_leaves_the_reads_working(studies, personas):
    # psycopg forgets its prepared statements on a rollback; the next call prepares again.
    read = PreparedRead(_membership, values=("study_id", "user_id"))
    values = {"study_id": studies[0].pk, "user_id": personas["rater1"].pk}
    expected = _membership((), **values).first()
    with pytest.raises(RuntimeError), transaction.atomic():
        assert read.first(**values) == expected
        raise RuntimeError("undo")
    assert read.first(**values) == expected
    assert read.first(**values) == expected


@pytest.mark.django_db
def test_nothing_is_prepared_when_the_setting_turns_it_off(studies, personas):
    read = PreparedRead(_membership, values=("study_id", "user_id"))
    connection.ensure_connection()
    threshold = connection.connection.prepare_threshold
    connection.connection.prepare_threshold = None  # what DATABASE_PREPARED_STATEMENTS=0 sets
    try:
        before = _prepared_statements()
        for study in studies:
            values = {"study_id": study.pk, "user_id": personas["rater2"].pk}
            assert read.first(**values) == _membership((), **values).first()
        assert _prepared_statements() == before
    finally:
        connection.connection.prepare_threshold = threshold


@pytest.mark.parametrize(("setting", "threshold"), [("1", 0), ("0", None)])
def test_the_setting_reaches_the_connection_options(setting, threshold):
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; django.setup();"
        "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS']['prepare_threshold'])"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "VAR_DIR": "/tmp/cxr-settings-test",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
        "DATABASE_PREPARED_STATEMENTS": setting,
    }
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == str(threshold)
