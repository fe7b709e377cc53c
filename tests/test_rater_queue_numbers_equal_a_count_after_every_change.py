"""The stored queue numbers (each read's place, each rater's total and done; annotation/services/
queues.py) equal a count over the rows after everything that changes a queue: opening, scoring,
flagging, revising, a late rater, a rebalance, excluding and restoring a case, removing and replacing
a rater, removing an unread case, importing past ratings (with image-less cases), their images
arriving later, and a backup restored."""

import io

import pytest

from annotation.csv_io import ratings_csv_import
from annotation.models import Assignment, Case, StudyMembership
from annotation.services import (
    assignment_flag,
    case_exclude,
    case_remove,
    case_restore,
    images_import,
    membership_add,
    rater_remove,
    rater_replace,
    rating_submit,
    study_create,
)
from backup.archive import study_export, study_import
from tests.conftest import image_sources
from tests.repair_support import VALUES, read_some


def _counted(study) -> dict[int, dict]:
    """What the numbers must be, from the rows: per rater, the reads with an image in order_key order."""
    expected: dict[int, dict] = {}
    rows = Assignment.objects.filter(study=study).select_related("case").order_by("rater_id", "order_key", "pk")
    for a in rows:
        mine = expected.setdefault(a.rater_id, {"positions": {}, "total": 0, "done": 0})
        if a.case.image_id is None:
            mine["positions"][a.pk] = None
            continue
        mine["total"] += 1
        mine["done"] += a.completed_at is not None
        mine["positions"][a.pk] = mine["total"]
    return expected


def _stored(study) -> dict[int, dict]:
    stored: dict[int, dict] = {}
    for a in Assignment.objects.filter(study=study).order_by("rater_id", "order_key", "pk"):
        stored.setdefault(a.rater_id, {"positions": {}})["positions"][a.pk] = a.position
    for m in StudyMembership.objects.filter(study=study, user_id__in=stored):
        stored[m.user_id].update(total=m.queue_total, done=m.queue_done)
    return stored


def assert_numbers_right(study, after: str) -> None:
    assert _stored(study) == _counted(study), f"after {after}"


@pytest.mark.django_db
def test_queue_numbers_follow_every_change_of_a_live_study(make_study, personas):
    study = make_study(n_cases=9, raters_per_case=2)
    assert_numbers_right(study, "opening")
    rater1, rater2, rater3 = (personas[n] for n in ("rater1", "rater2", "rater3"))
    first = read_some(study, rater1, 2)
    read_some(study, rater2, 1)
    assert_numbers_right(study, "scoring")
    rating_submit(assignment=first[0], values=VALUES, reading_time_s=3.0)
    assert_numbers_right(study, "a revision")
    flagged = Assignment.objects.filter(study=study, rater=rater3, completed_at__isnull=True).first()
    assignment_flag(assignment=flagged, reason="not_chest")
    assert_numbers_right(study, "a flag")
    rating_submit(assignment=flagged, values=VALUES)  # scored after all: no second count
    assert_numbers_right(study, "scoring a flagged read")

    membership_add(study=study, user=personas["cora"], role=StudyMembership.Role.RATER, actor=personas["alice"])
    assert_numbers_right(study, "a late rater with a rebalance")
    case = Assignment.objects.filter(study=study, rater=rater1, completed_at__isnull=True).first().case
    case_exclude(case=case, reason="burned-in text", actor=personas["alice"])
    assert_numbers_right(study, "excluding a case")
    case_restore(case=case, actor=personas["alice"])
    assert_numbers_right(study, "restoring it")
    rater_remove(study=study, user=rater2, actor=personas["alice"])
    assert_numbers_right(study, "removing a rater")
    rater_replace(study=study, old=rater3, new=personas["rater2"], actor=personas["alice"])
    assert_numbers_right(study, "replacing a rater")

    images_import(study=study, sources=image_sources(2, start=50))
    assert_numbers_right(study, "importing images into the open study")
    unread = Case.objects.filter(study=study).exclude(assignments__completed_at__isnull=False).first()
    case_remove(case=unread, actor=personas["alice"])
    assert_numbers_right(study, "removing an unread case")

    archive = io.BytesIO()
    study_export(study=study, output=archive)
    expected = _counted(study)
    study.delete()  # restored on a site without it: the public ids are the archive's
    archive.seek(0)
    restored = study_import(source=archive)
    assert_numbers_right(restored, "a restore")
    assert sorted(n["total"] for n in _stored(restored).values()) == sorted(n["total"] for n in expected.values())


@pytest.mark.django_db
def test_queue_numbers_follow_a_past_study_imported_before_its_images(personas):
    study = study_create(owner=personas["alice"], slug="past", title="Past", raters_per_case=2)
    for name in ("rater1", "rater2"):
        membership_add(study=study, user=personas[name], role=StudyMembership.Role.RATER)
    images_import(study=study, sources=image_sources(2))  # img-000.png and img-001.png have images
    data = b"image,rater,extent_right,extent_left,opacity_right,opacity_left\n" + b"".join(
        f"img-{i:03d}.png,{rater},1,2,1,1\n".encode() for i in range(4) for rater in ("rater1", "rater2")
    )
    ratings_csv_import(study=study, data=data, allow_missing_images=True)
    assert_numbers_right(study, "importing ratings with two image-less cases")
    assert StudyMembership.objects.get(study=study, user=personas["rater1"]).queue_total == 2
    images_import(study=study, sources=image_sources(4))  # the two missing images arrive
    assert_numbers_right(study, "the images arriving")
    assert StudyMembership.objects.get(study=study, user=personas["rater1"]).queue_done == 4
