"""The answer to a save and the list of revisions are written out by hand for speed; each rating
must come out as the serializer's declared fields (the API schema) write it: every source, a
reading time or none, a missing item, any time zone of the stored time."""

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from annotation.models import Rating
from reading.api import RatingSerializer

SCORED = {"extent_right": 3, "opacity_right": 1, "extent_left": 0, "opacity_left": 2}
TIMES = [
    dt.datetime(2026, 3, 1, 9, 30, 12, 345678, tzinfo=dt.UTC),
    dt.datetime(2026, 7, 4, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    dt.datetime(2025, 12, 31, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
]


def _rating(**changes) -> Rating:
    fields = {
        "revision": 1,
        "values": SCORED,
        "totals": {"geographic_extent": 3, "opacity": 3},
        "reading_time_s": 12.5,
        "source": Rating.Source.WEB,
        "created_at": TIMES[0],
    }
    return Rating(**{**fields, **changes})


@pytest.mark.parametrize(
    ("source", "reading_time_s", "created_at"),
    list(itertools.product(Rating.Source.values, [None, 0.0, 7, 86_399.25], TIMES)),
)
def test_each_rating_is_written_as_its_fields_write_it(source, reading_time_s, created_at):
    rating = _rating(source=source, reading_time_s=reading_time_s, created_at=created_at)
    serializer = RatingSerializer(rating)
    assert serializer.data == serializer.fields_representation(rating)
    assert list(serializer.data) == list(serializer.fields_representation(rating))  # the same order


def test_a_missing_item_a_later_revision_and_another_time_zone(settings):
    rating = _rating(values={**SCORED, "opacity_left": None}, revision=4, source=Rating.Source.IMPORT)
    settings.TIME_ZONE = "Europe/Berlin"
    with timezone.override("Asia/Tokyo"):
        written = RatingSerializer(rating).data
        assert written == RatingSerializer(rating).fields_representation(rating)
    assert written["created_at"] == "2026-03-01T18:30:12.345678+09:00"
    assert written["values"]["opacity_left"] is None and written["revision"] == 4


def test_a_list_of_revisions_is_written_the_same_way():
    ratings = [_rating(revision=n, created_at=TIMES[n % 3]) for n in (1, 2, 3)]
    listed = RatingSerializer(ratings, many=True).data
    assert listed == [RatingSerializer().fields_representation(rating) for rating in ratings]


def test_a_row_read_as_a_dict_is_written_as_the_rating():
    # The list of revisions reads rows with .values(...): dicts, not instances.
    for reading_time_s in (None, 3.25):
        rating = _rating(reading_time_s=reading_time_s, source=Rating.Source.API)
        row = {name: getattr(rating, name) for name in RatingSerializer().fields}
        assert (
            RatingSerializer(row).data == RatingSerializer(rating).data == RatingSerializer().fields_representation(row)
        )
