"""An owner excludes a case (a wrong view, a duplicate) with a reason: it keeps its reads, leaves
every analysis, is marked where it is listed, and can be restored."""

import pytest

from annotation.models import Assignment, AuditEvent
from annotation.services import case_exclude, case_restore
from core.errors import InvalidInput, StateConflict
from scoring.selectors import study_consensus, study_score_table
from tests.repair_support import read_some


def _read_everything(study, personas):
    for name in ("rater1", "rater2", "rater3"):
        read_some(study, personas[name], 100)


def test_exclusion_keeps_the_reads_and_leaves_the_analysis(make_study, personas):
    study = make_study(n_cases=4)
    _read_everything(study, personas)
    case = study.cases.order_by("pk").first()
    version = study.ratings_version
    reads = Assignment.objects.filter(case=case).count()

    case_exclude(case=case, reason="lateral view", actor=personas["alice"])

    case.refresh_from_db()
    assert case.excluded_at is not None and case.exclusion_reason == "lateral view"
    assert Assignment.objects.filter(case=case).count() == reads  # nothing read is lost
    table = study_score_table(study=study)
    assert case.pk not in table.case_ids and len(table.case_ids) == 3
    assert table.n_ratings == 9
    marked = {row.case_id: row.excluded for row in study_consensus(study=study, include_excluded=True)}
    assert marked[case.pk] is True and sum(marked.values()) == 1
    study.refresh_from_db()
    assert study.ratings_version > version  # the cached agreement report is stale now
    event = AuditEvent.objects.get(study=study, action=AuditEvent.Action.CASE_EXCLUDE)
    assert event.details["filename"] == case.original_filename and event.details["reason"] == "lateral view"

    case_restore(case=case, actor=personas["alice"])
    assert case.pk in study_score_table(study=study).case_ids
    assert AuditEvent.objects.filter(study=study, action=AuditEvent.Action.CASE_RESTORE).count() == 1


def test_an_excluded_case_waits_for_nobody(make_study, personas):
    """Unread reads of an excluded case are withdrawn (nobody spends time on it) and come back on
    restore; an excluded case never waits for adjudication."""
    study = make_study(n_cases=3)
    case = study.cases.order_by("pk").first()
    read_some(
        study,
        personas["rater1"],
        100,
        values={"extent_right": 4, "extent_left": 4, "opacity_right": 3, "opacity_left": 3},
    )
    read_some(
        study,
        personas["rater2"],
        100,
        values={"extent_right": 0, "extent_left": 0, "opacity_right": 0, "opacity_left": 0},
    )
    assert any(row.case_id == case.pk and row.needs_adjudication for row in study_consensus(study=study))

    result = case_exclude(case=case, reason="duplicate of another image", actor=None)
    assert result.excluded_at
    assert not Assignment.objects.filter(case=case, completed_at__isnull=True).exists()  # rater3's unread one
    rows = study_consensus(study=study, include_excluded=True)
    assert not any(row.case_id == case.pk and row.needs_adjudication for row in rows)

    case_restore(case=case, actor=None)
    assert Assignment.objects.filter(case=case).values("rater").distinct().count() == 3  # rater3 again


def test_exclusion_needs_a_reason_and_an_unlocked_study(make_study, personas):
    from annotation.services import study_lock

    study = make_study(n_cases=2)
    case = study.cases.first()
    with pytest.raises(InvalidInput, match="say why"):
        case_exclude(case=case, reason="   ", actor=None)
    case_exclude(case=case, reason="wrong patient", actor=None)
    with pytest.raises(StateConflict, match="excluded already"):
        case_exclude(case=case, reason="again", actor=None)
    study_lock(study=study)
    with pytest.raises(StateConflict, match="locked"):
        case_restore(case=case, actor=None)
