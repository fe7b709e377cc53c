"""Replacing a rater: the newcomer takes the leaver's unread cases, the reads left stay even, the
leaver's finished reads stay in the analysis (unless dropped); also from the command line."""

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Assignment, AuditEvent, StudyMembership
from annotation.services import rater_replace
from scoring.selectors import study_score_table
from tests.repair_support import assert_balanced, left_to_read, raters_per_case, read_some


def test_the_newcomer_takes_the_unread_cases(make_study, make_user, personas):
    study = make_study(n_cases=24, raters_per_case=2)
    read_some(study, personas["rater1"], 10)
    read_some(study, personas["rater2"], 5)
    read_some(study, personas["rater3"], 8)
    new = make_user("rater4")
    left_before = sum(left_to_read(study).values())

    result = rater_replace(study=study, old=personas["rater3"], new=new, actor=personas["alice"])

    assert result.removed.withdrawn == 8 and result.removed.reads_done == 8 and result.removed.ratings_kept
    assert sum(left_to_read(study).values()) == left_before
    assert "rater3" not in left_to_read(study)
    assert result.moved >= 8
    assert raters_per_case(study) == {2: 24}  # rater3's kept reads still count for their 8 cases
    assert_balanced(study)
    assert "rater3" in study_score_table(study=study).raters
    event = AuditEvent.objects.get(study=study, action=AuditEvent.Action.RATER_REPLACE)
    assert event.details["replaced_by"] == "rater4"
    assert event.actor == personas["alice"]


def test_replace_rater_command(make_study, make_user, personas, capsys):
    study = make_study(n_cases=6, raters_per_case=3)
    read_some(study, personas["rater2"], 2)
    make_user("rater4")
    call_command("replace_rater", study.slug, "rater2", "rater4", "--drop-ratings")
    out = capsys.readouterr().out
    assert "rater4 replaces rater2" in out and "left out of the analysis" in out
    assert StudyMembership.objects.get(study=study, user=personas["rater2"]).role == "removed"
    assert "rater2" not in study_score_table(study=study).raters
    # Dropped reads: those two cases get rater4 too, so every case has three raters who count.
    counted = Assignment.objects.filter(study=study).exclude(rater=personas["rater2"])
    assert counted.values("case", "rater").distinct().count() == 18

    with pytest.raises(CommandError, match="nobody is called"):
        call_command("replace_rater", study.slug, "rater1", "nobody-here")
    with pytest.raises(CommandError, match="not a rater"):
        call_command("replace_rater", study.slug, "olivia", "rater4")


def test_exclude_case_command(make_study, capsys):
    study = make_study(n_cases=3)
    name = study.cases.order_by("pk").first().original_filename
    call_command("exclude_case", study.slug, name, "--reason", "lateral view")
    assert "excluded from the analyses (lateral view)" in capsys.readouterr().out
    assert study.cases.get(original_filename=name).excluded_at
    call_command("exclude_case", study.slug, name, "--restore")
    assert study.cases.get(original_filename=name).excluded_at is None
    with pytest.raises(CommandError, match="no case named"):
        call_command("exclude_case", study.slug, "missing.png", "--reason", "x")
    with pytest.raises(CommandError):
        call_command("exclude_case", study.slug, name)  # --reason or --restore is required
