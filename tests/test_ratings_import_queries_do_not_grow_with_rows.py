"""A ratings import writes in bulk: its queries do not grow with the number of rows."""

import sqlite3

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.csv_io import ratings_csv_import
from annotation.models import Rating

RATERS = ("rater1", "rater2", "rater3")
HEADER = "image,rater,extent_right,extent_left,opacity_right,opacity_left,duration_s,rated_at"


def ratings_file(n_images: int, *, prefix: str, score: int = 1) -> bytes:
    rows = [
        f"{prefix}-{i}.png,{rater},{score},{(i + r) % 5},{r},{i % 4},{5 + i},2020-04-01T10:00:00"
        for i in range(n_images)
        for r, rater in enumerate(RATERS)
    ]
    return "\n".join([HEADER, *rows]).encode()


def queries_to_import(study, data: bytes) -> int:
    with CaptureQueriesContext(connection) as captured:
        ratings_csv_import(study=study, data=data, allow_missing_images=True)
    return len(captured)


@pytest.mark.parametrize("revisions", [False, True], ids=["first_reads", "revisions_of_stored_reads"])
def test_import_of_300_ratings_makes_as_many_queries_as_of_30(make_study, monkeypatch, revisions):
    if connection.vendor == "sqlite":
        # Django 5.2 assumes SQLite's old bound of 999 parameters and splits a bulk statement of a
        # few hundred rows by it; this SQLite takes its real bound, as PostgreSQL has none. What is
        # left to count is the import's own statements.
        connection.ensure_connection()
        bound = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        monkeypatch.setattr(connection.features, "max_query_params", bound)
    study = make_study(n_cases=0, slug="past")
    small, large = ratings_file(10, prefix="small"), ratings_file(100, prefix="large")
    if revisions:  # the same reads stored once already: the import adds revision 2 of each
        ratings_csv_import(
            study=study, data=small + b"\n" + b"\n".join(large.splitlines()[1:]), allow_missing_images=True
        )

    counts = {30: queries_to_import(study, small), 300: queries_to_import(study, large)}

    assert Rating.objects.filter(assignment__study=study).count() == (660 if revisions else 330)
    assert counts[300] == counts[30], counts
    assert counts[30] <= 25, counts  # was about 10 a row; numbering the raters' queues takes four
