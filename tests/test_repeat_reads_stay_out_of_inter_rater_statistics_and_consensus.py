"""A rater's repeat read of a case never enters the inter-rater analysis: not the score table the
agreement statistics, consensus and adjudication queue are made of, not the ratings export, not the
effort per case, not the imports. It is in the intra-rater analysis only."""

import csv
import io

import numpy as np
from django.utils import timezone

from annotation.csv_io import ratings_csv_export
from annotation.selectors import study_effort_reads
from annotation.services import rating_submit
from scoring.selectors import study_consensus, study_repeat_pairs, study_score_table
from tests.conftest import open_repeat_study

LOW = {"extent_right": 0, "extent_left": 0, "opacity_right": 0, "opacity_left": 0}
HIGH = {"extent_right": 4, "extent_left": 4, "opacity_right": 3, "opacity_left": 3}


def _study_read_twice(make_study):
    """Every first read scored LOW, every repeat read HIGH: any leak of a repeat read shows."""
    study = open_repeat_study(make_study, fraction=0.5, days=0, cases=0, n_cases=6)
    for assignment in study.assignments.filter(repeat=False):
        rating_submit(assignment=assignment, values=LOW)
    study.assignments.filter(repeat=True).update(available_at=timezone.now())
    for assignment in study.assignments.filter(repeat=True):
        rating_submit(assignment=assignment, values=HIGH)
    study.refresh_from_db()
    return study


def test_the_score_table_and_consensus_hold_first_reads_only(make_study):
    study = _study_read_twice(make_study)
    assert study.assignments.filter(repeat=True, current_rating__isnull=False).count() == 9  # 3 raters x 3
    table = study_score_table(study=study)
    assert table.n_ratings == 18 and len(table.case_ids) == 6 and len(table.raters) == 3
    for key in table.rubric.total_keys:
        assert np.all(table.matrices[key] == 0)
    consensus = study_consensus(study=study, table=table)
    assert all(row.n_raters == 3 and row.spread["geographic_extent"] == 0 for row in consensus)
    assert not any(row.needs_adjudication for row in consensus)


def test_the_ratings_export_and_effort_list_each_first_read_once(make_study):
    study = _study_read_twice(make_study)
    rows = list(csv.DictReader(io.StringIO(ratings_csv_export(study=study))))
    assert len(rows) == 18 and {row["geographic_extent"] for row in rows} == {"0"}
    assert len({(row["case_id"], row["rater"]) for row in rows}) == 18
    reads = study_effort_reads(study=study)
    assert len(reads) == 18 and all(read.totals["geographic_extent"] == 0 for read in reads)


def test_the_intra_rater_pairs_hold_each_first_read_with_its_repeat(make_study):
    study = _study_read_twice(make_study)
    pairs = study_repeat_pairs(study=study)
    assert set(pairs["geographic_extent"]) == {"rater1", "rater2", "rater3"}
    for matrix in pairs["geographic_extent"].values():
        assert matrix.shape == (3, 2) and np.all(matrix[:, 0] == 0) and np.all(matrix[:, 1] == 8)
