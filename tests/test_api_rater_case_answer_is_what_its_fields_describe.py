"""The rater's case answer (queue/next, an assignment, a flag) is written out by hand for speed; it
must equal what the serializer's declared fields (the API schema) write, for every kind of read,
including what blinding leaves out."""

import itertools

import pytest
from rest_framework.test import APIRequestFactory

from annotation.rubrics import rubric_get
from reading.api import RaterCaseSerializer
from reading.selectors import RaterCase

PLAIN = {
    "public_id": "a1B2c3",
    "study_slug": "s1",
    "study_title": "Study one",
    "study_status": "open",
    "rubric": rubric_get("cohen2020"),
    "position": 3,
    "queue_length": 94,
    "done": 2,
    "values": None,
    "revision": 0,
    "flag_reason": "",
    "flag_note": "",
    "previous_id": "zz9",
    "next_id": None,
    "upcoming_id": "x7",
    "display_width": 1024,
    "display_height": 900,
}
SCORED = {"extent_right": 3, "opacity_right": 1, "extent_left": 0, "opacity_left": None}
VARIANTS = {
    "unaided, not scored": {},
    "unaided, scored, locked": {"values": SCORED, "revision": 2, "study_status": "locked", "next_id": "n1"},
    "flagged": {"flag_reason": "other", "flag_note": "rotated", "previous_id": None, "upcoming_id": None},
    "aided, waiting for the hint": {"aided": True},
    "aided": {"aided": True, "model_hint": {"geographic_extent": 4.4, "opacity": 2}, "model_version_number": 3},
    "aided, a null in the hint": {"aided": True, "model_hint": {"geographic_extent": None}, "model_version_number": 1},
    "pre-labelling": {
        "aided": True,
        "model_hint": {"geographic_extent": 4.4, "opacity": 2.75},
        "model_version_number": 2,
        "prelabel_values": {"extent_right": 2, "opacity_right": 1, "extent_left": 2, "opacity_left": 2},
        "values": SCORED,
    },
    "draft, unknown to the rater": {"study_status": "draft", "done": 0, "position": 1},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_answer_equals_what_the_declared_fields_write(variant):
    case = RaterCase(**{**PLAIN, **VARIANTS[variant]})
    request = APIRequestFactory().get("/api/v1/")
    serializer = RaterCaseSerializer(case, context={"request": request})
    answer, described = serializer.data, serializer.fields_representation(case)
    assert answer == described
    assert list(answer) == list(described)  # the same keys in the same order
    for key in answer:
        assert type(answer[key]) is type(described[key]), key
    if not case.aided:  # blinding: nothing of the model in an unaided read
        assert not set(answer) & set(RaterCaseSerializer.MODEL_FIELDS)


def test_every_declared_field_is_in_some_answer():
    keys = set(itertools.chain.from_iterable(_answer(v) for v in VARIANTS))
    assert keys == set(RaterCaseSerializer().fields)


def _answer(variant: str) -> dict:
    request = APIRequestFactory().get("/api/v1/")
    case = RaterCase(**{**PLAIN, **VARIANTS[variant]})
    return RaterCaseSerializer(case, context={"request": request}).data
