"""Issue 14, audit you can use: a revision's event keeps the scores before and after (and the
reading time), an adjudication's the previous final and the new one; the owner's page names each
case's file next to its id, says what changed in words ("Geographic extent, left lung 3 → 1"), and
filters by kind, person, case and dates, paged, with the CSV export honouring the same filters."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.audit import audit_record
from annotation.models import Assignment, AuditEvent
from annotation.services import adjudication_record, assignment_flag, membership_set_adjudicator, rating_submit
from tests.conftest import COHEN_VALUES

Action = AuditEvent.Action
REVISED = {**COHEN_VALUES, "extent_left": 1}  # 3 -> 1: geographic extent total 5 -> 3


@pytest.fixture
def study(make_study):
    return make_study(n_cases=3)


def read_of(study, personas, rater: str, index: int = 0) -> Assignment:
    return Assignment.objects.filter(study=study, rater=personas[rater]).select_related("case").order_by("case")[index]


def revision_events(study):
    return list(AuditEvent.objects.filter(study=study, action=Action.RATING_REVISION).order_by("pk"))


def test_a_revision_keeps_the_scores_before_and_after_and_its_reading_time(study, personas):
    assignment = read_of(study, personas, "rater1")
    rating_submit(assignment=assignment, values=COHEN_VALUES, reading_time_s=12.345)
    rating_submit(assignment=assignment, values=REVISED, reading_time_s=4.0)
    first, second = revision_events(study)
    assert first.details["before"] is None
    assert first.details["after"] == {**COHEN_VALUES, "geographic_extent": 5, "opacity": 3}
    assert first.details["reading_time_s"] == 12.35
    assert second.details["before"] == first.details["after"]
    assert second.details["after"] == {**REVISED, "geographic_extent": 3, "opacity": 3}
    assert second.details["reading_time_s"] == 4.0


def test_a_flag_keeps_the_scores_it_sets_aside_and_a_rescore_says_it_was_flagged(study, personas):
    assignment = read_of(study, personas, "rater1")
    rating_submit(assignment=assignment, values=COHEN_VALUES)
    assignment_flag(assignment=assignment, reason="wrong_view")
    flag = AuditEvent.objects.filter(study=study, action=Action.FLAG).get()
    assert flag.details["before"] == {**COHEN_VALUES, "geographic_extent": 5, "opacity": 3}
    rating_submit(assignment=assignment, values=REVISED)
    rescore = revision_events(study)[-1]
    assert (rescore.details["before"], rescore.details["was_flagged"]) == (None, "wrong_view")


def test_an_adjudication_keeps_the_previous_final_and_the_new_one(study, personas):
    case = read_of(study, personas, "rater1").case
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True, actor=personas["alice"])
    adjudication_record(case=case, adjudicator=personas["olivia"], values=COHEN_VALUES)
    adjudication_record(case=case, adjudicator=personas["olivia"], values=REVISED, note="left lung clearer")
    first, second = AuditEvent.objects.filter(study=study, action=Action.ADJUDICATION).order_by("pk")
    assert first.details["before"] is None and second.details["before"] == first.details["after"]
    assert second.details["after"]["geographic_extent"] == 3 and second.details["note"] == "left lung clearer"


def test_the_page_names_the_file_and_says_what_changed_in_words(study, personas, client_for):
    assignment = read_of(study, personas, "rater1")
    rating_submit(assignment=assignment, values=COHEN_VALUES, reading_time_s=12.3)
    rating_submit(assignment=assignment, values=REVISED, reading_time_s=4.0)
    text = client_for("alice").get(f"/studies/{study.slug}/audit/").content.decode()
    assert assignment.case.original_filename in text and assignment.case.public_id in text
    assert "Geographic extent, left lung 3 → 1" in text
    assert "Geographic extent (total) 5 → 3" in text
    (row,) = [row for row in text.split("<tr>") if "3 → 1" in row]
    assert "Opacity" not in row  # only what changed
    assert "reading time: 4.0 s" in row
    assert "Geographic extent, right lung 2" in text  # the first read: its scores, no arrow


def _setup_trail(study, personas):
    one, two = read_of(study, personas, "rater1", 0), read_of(study, personas, "rater2", 1)
    rating_submit(assignment=one, values=COHEN_VALUES)
    rating_submit(assignment=two, values=COHEN_VALUES)
    assignment_flag(assignment=read_of(study, personas, "rater3", 2), reason="wrong_view")
    old = audit_record(study=study, actor=personas["alice"], action=Action.LOCK, target="long ago")
    AuditEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    return one, two


def _rows(client, url) -> list[str]:
    """The body rows of the trail's table, as text."""
    html = client.get(url).content.decode()
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [row for row in body.split("<tr>")[1:]]


def test_filters_by_kind_person_case_and_dates(study, personas, client_for):
    one, two = _setup_trail(study, personas)
    client, base = client_for("alice"), f"/studies/{study.slug}/audit/"

    rows = _rows(client, base + "?action=rating_revision")
    assert len(rows) == 2 and all("Rating revision" in row for row in rows)
    rows = _rows(client, base + "?actor=rater2")
    assert len(rows) == 1 and two.case.original_filename in rows[0]
    rows = _rows(client, base + "?case=" + one.case.original_filename.upper()[-7:])  # part of the name, any case
    assert [one.case.original_filename in row for row in rows] == [True] * len(rows) and rows
    rows = _rows(client, base + "?case=" + two.case.public_id[3:9])  # part of the id
    assert rows and all(two.case.public_id in row for row in rows)
    today = timezone.localdate()
    rows = _rows(client, base + f"?date_to={today - timedelta(days=30)}")
    assert len(rows) == 1 and "long ago" in rows[0]
    rows = _rows(client, base + f"?date_from={today}&action=lock")
    assert rows and "No event matches" in rows[0]
    rows = _rows(client, base + "?actor=(system)")  # the command line and automatic acts
    assert all("system" in row for row in rows)


def test_a_mistyped_filter_keeps_the_others(study, personas, client_for):
    _setup_trail(study, personas)
    response = client_for("alice").get(f"/studies/{study.slug}/audit/?action=flag&date_from=yesterday")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Enter a valid date" in text
    body = text.split("<tbody>", 1)[1]
    assert "Flag" in body and "Rating revision" not in body


def test_pages_keep_the_filters(study, personas, client_for):
    for i in range(60):
        audit_record(study=study, actor=personas["alice"], action=Action.LOCK, target=f"t{i:02d}")
    client = client_for("alice")
    text = client.get(f"/studies/{study.slug}/audit/?action=lock&actor=alice").content.decode()
    assert "?action=lock&amp;actor=alice&amp;page=2" in text
    older = client.get(f"/studies/{study.slug}/audit/?action=lock&actor=alice&page=2").content.decode()
    assert "t00" in older and "Page 2 of 2" in older


def test_the_csv_export_honours_the_filters_and_names_the_file(study, personas, client_for):
    one, _ = _setup_trail(study, personas)
    client = client_for("alice")
    page = client.get(f"/studies/{study.slug}/audit/?action=rating_revision&actor=rater1").content.decode()
    assert f"/studies/{study.slug}/export/audit.csv?action=rating_revision&amp;actor=rater1" in page
    response = client.get(f"/studies/{study.slug}/export/audit.csv?action=rating_revision&actor=rater1")
    (row,) = list(csv.DictReader(io.StringIO(response.content.decode())))
    # An id that starts with "-" (1 in 64) leaves the safe CSV writer with a leading quote.
    assert (row["actor"], row["action"], row["target"].removeprefix("'"), row["filename"]) == (
        "rater1",
        "rating_revision",
        one.case.public_id,
        one.case.original_filename,
    )
    everything = list(
        csv.DictReader(io.StringIO(client.get(f"/studies/{study.slug}/export/audit.csv").content.decode()))
    )
    assert len(everything) > 4 and {"study_create", "flag", "lock"} <= {r["action"] for r in everything}
