"""Concurrent writes on PostgreSQL (CI's database): the same rating submitted at once by many
threads is stored once; different submissions get consecutive revisions; concurrent assignment runs
give no duplicate assignments. SQLite serialises writers, so these races only exist on PostgreSQL."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from annotation.models import Assignment, Rating
from annotation.services import rating_submit, study_assign_cases
from tests.conftest import COHEN_VALUES

N_THREADS = 8


@pytest.fixture(autouse=True)
def _postgresql_only(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency faults need PostgreSQL (DATABASE_URL=postgres://...); SQLite serialises all writers")


def _at_once(work: Callable[[int], object]) -> list:
    """Run work(i) in N threads released together, each on its own database connection."""
    barrier, results, errors = threading.Barrier(N_THREADS), [None] * N_THREADS, []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(N_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_same_client_key_submitted_at_once_is_stored_once(make_study, personas):
    study = make_study(n_cases=2)
    assignment = Assignment.objects.filter(study=study, rater=personas["rater1"]).first()
    ratings = _at_once(lambda i: rating_submit(assignment=assignment, values=COHEN_VALUES, client_key="retry-1").pk)
    assert len(set(ratings)) == 1
    assert list(Rating.objects.filter(assignment=assignment).values_list("revision", "client_key")) == [(1, "retry-1")]


def test_different_keys_at_once_get_consecutive_revisions(make_study, personas):
    study = make_study(n_cases=2)
    assignment = Assignment.objects.filter(study=study, rater=personas["rater1"]).first()
    _at_once(lambda i: rating_submit(assignment=assignment, values=COHEN_VALUES, client_key=f"key-{i}"))
    revisions = sorted(Rating.objects.filter(assignment=assignment).values_list("revision", flat=True))
    assert revisions == list(range(1, N_THREADS + 1))
    assignment.refresh_from_db()
    assert assignment.current_rating.revision == N_THREADS


def test_concurrent_assignment_runs_assign_each_case_once_per_rater(make_study):
    study = make_study(n_cases=6)
    Assignment.objects.filter(study=study).delete()
    created = _at_once(lambda i: study_assign_cases(study=study))
    pairs = list(Assignment.objects.filter(study=study).values_list("case_id", "rater_id"))
    assert len(pairs) == len(set(pairs)) == 6 * study.raters_per_case == sum(created)
