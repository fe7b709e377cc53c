"""The bulk ratings import stores exactly what storing its rows one by one through rating_store did:
revisions after the stored ones, totals, reading times, dates, current ratings, cleared flags and
the trail's before/after of each revision."""

from datetime import UTC, datetime

from annotation.csv_io import ratings_csv_import, ratings_csv_parse
from annotation.models import Assignment, AuditEvent, Case, Rating
from annotation.selectors import study_main_reads_aided
from annotation.services import assignment_flag, assignment_order_key, rating_submit
from tests.conftest import COHEN_VALUES

FILE = b"""image,rater,extent_right,extent_left,opacity_right,opacity_left,duration_s,rated_at,aided
img-000.png,rater1,4,4,3,3,12.5,2020-04-01T10:00:00,
img-000.png,rater2,0,1,0,1,,2020-04-01T11:00:00+02:00,
img-001.png,rater1,1,2,1,2,30,,
img-001.png,rater3,2,2,2,2,7.25,2020-04-02T09:30:00,
img-002.png,rater2,3,0,3,0,,,
img-002.png,rater2,3,1,3,1,44,2020-04-03T08:00:00,no
past-only.png,rater1,1,1,1,1,3,2020-04-04T12:00:00,
past-only.png,rater3,2,1,2,1,,,
"""


def import_row_by_row(*, study, data: bytes) -> None:
    """The import as it was before the bulk path: get_or_create and rating_submit per row."""
    main_aided = study_main_reads_aided(study)
    members = {m.user.username: m for m in study.memberships.select_related("user")}
    for row in ratings_csv_parse(study=study, data=data, allow_missing_images=True):
        case, _ = Case.objects.get_or_create(study=study, original_filename=row.image)
        membership = members[row.rater]
        assignment, _ = Assignment.objects.get_or_create(
            case=case,
            rater=membership.user,
            aided=main_aided if row.aided is None else row.aided,
            defaults={"study": study, "order_key": assignment_order_key(seed=membership.queue_seed, case_id=case.pk)},
        )
        rating_submit(
            assignment=assignment,
            values=row.values,
            reading_time_s=row.duration_s,
            source=Rating.Source.IMPORT,
            rated_at=row.rated_at,
        )


def with_stored_reads(study):
    """Reads stored before the import: two revisions of one, a first read of others, one flag."""
    read = study.assignments.get
    first = read(case__original_filename="img-000.png", rater__username="rater1")
    rating_submit(assignment=first, values=COHEN_VALUES, reading_time_s=20)
    rating_submit(assignment=first, values={**COHEN_VALUES, "extent_right": 3}, reading_time_s=25)
    rating_submit(assignment=read(case__original_filename="img-001.png", rater__username="rater3"), values=COHEN_VALUES)
    assignment_flag(
        assignment=read(case__original_filename="img-002.png", rater__username="rater2"), reason="wrong_view"
    )
    return study


def stored(study) -> dict:
    """What the study holds, by (image, rater, aided), free of ids that differ between studies."""
    reads = {}
    for assignment in study.assignments.select_related("case", "rater", "current_rating"):
        key = (assignment.case.original_filename, assignment.rater.username, assignment.aided)
        revisions = [
            (
                r.revision,
                r.values,
                r.totals,
                r.reading_time_s,
                r.source,
                r.created_at if r.created_at.year < 2021 else "now",
            )
            for r in assignment.ratings.order_by("revision")
        ]
        current = assignment.current_rating.revision if assignment.current_rating else None
        flag = (assignment.flag_reason, assignment.flag_note, assignment.flagged_at is not None)
        reads[key] = (revisions, current, flag, assignment.completed_at is not None)
    return reads


def revision_trail(study) -> list:
    keys = {a.public_id: (a.case.original_filename, a.rater.username, a.aided) for a in study.assignments.all()}
    cases = {c.public_id: c.original_filename for c in study.cases.all()}
    events = AuditEvent.objects.filter(study=study, action=AuditEvent.Action.RATING_REVISION).order_by("pk")
    return [
        (event.actor.username, cases[event.target], {**event.details, "assignment": keys[event.details["assignment"]]})
        for event in events.select_related("actor")
    ]


def test_bulk_import_stores_what_rating_store_stored_row_by_row(make_study):
    bulk = with_stored_reads(make_study(n_cases=3, slug="bulk"))
    row_by_row = with_stored_reads(make_study(n_cases=3, slug="rows"))
    bulk.refresh_from_db()
    version = bulk.ratings_version
    bulk_events = AuditEvent.objects.filter(study=bulk).count()

    assert ratings_csv_import(study=bulk, data=FILE, allow_missing_images=True) == 8
    import_row_by_row(study=row_by_row, data=FILE)

    assert stored(bulk) == stored(row_by_row)
    assert revision_trail(bulk) == revision_trail(row_by_row)
    # Spot checks of what both hold.
    reads = stored(bulk)
    revisions, current, flag, completed = reads[("img-000.png", "rater1", False)]
    assert [r[0] for r in revisions] == [1, 2, 3] and current == 3 and completed
    assert revisions[2][1:4] == (
        {"extent_right": 4, "extent_left": 4, "opacity_right": 3, "opacity_left": 3},
        {"geographic_extent": 8, "opacity": 6},
        12.5,
    )
    assert revisions[2][5] == datetime(2020, 4, 1, 10, 0, tzinfo=UTC)
    # An unmarked row and one marked "no" are the same unaided read: two revisions in file order.
    revisions, current, flag, _ = reads[("img-002.png", "rater2", False)]
    assert [(r[0], r[3]) for r in revisions] == [(1, None), (2, 44.0)] and current == 2
    assert flag == ("", "", False)
    trail = {
        (image, details["revision"]): details for _, image, details in revision_trail(bulk) if image == "img-002.png"
    }
    assert trail[("img-002.png", 1)]["was_flagged"] == "wrong_view" and trail[("img-002.png", 1)]["before"] is None
    assert trail[("img-002.png", 2)]["before"] == {
        "extent_right": 3,
        "extent_left": 0,
        "opacity_right": 3,
        "opacity_left": 0,
        "geographic_extent": 3,
        "opacity": 3,
    }
    assert reads[("past-only.png", "rater3", False)][0][0][5] == "now"
    # The study's ratings changed once (the cached report is stale), and the import is on the trail.
    bulk.refresh_from_db()
    assert bulk.ratings_version == version + 1
    assert AuditEvent.objects.filter(study=bulk).count() == bulk_events + 8 + 1
    assert AuditEvent.objects.filter(study=bulk).first().action == AuditEvent.Action.RATINGS_IMPORT
