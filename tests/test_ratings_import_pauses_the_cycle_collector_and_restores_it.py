"""A ratings import builds its rows with Python's cycle collector paused (its passes over rows that
are all kept find nothing to free) and leaves the collector as it found it: on, after a good file
and after a refused one; off, when it was off."""

import gc

import pytest

from annotation import csv_io
from annotation.csv_io import RatingsCsvError, ratings_csv_import
from core.bulk import collector_paused

HEADER = "image,rater,extent_right,extent_left,opacity_right,opacity_left\n"


@pytest.fixture
def study(make_study):
    return make_study(n_cases=0, open_it=False, raters=("rater1", "rater2", "rater3"))


@pytest.fixture
def seen_while_parsing(monkeypatch):
    seen = []
    parse = csv_io.ratings_csv_parse

    def spy(**kwargs):
        seen.append(gc.isenabled())
        return parse(**kwargs)

    monkeypatch.setattr(csv_io, "ratings_csv_parse", spy)
    return seen


@pytest.mark.django_db
def test_paused_during_the_import_and_on_after_it(study, seen_while_parsing):
    assert gc.isenabled()
    rows = "\n".join(f"c{i}.png,rater{r},1,2,1,0" for i in range(4) for r in (1, 2, 3))
    assert ratings_csv_import(study=study, data=(HEADER + rows).encode(), allow_missing_images=True) == 12
    assert seen_while_parsing == [False] and gc.isenabled()


@pytest.mark.django_db
def test_on_again_after_a_refused_file(study, seen_while_parsing):
    with pytest.raises(RatingsCsvError):
        ratings_csv_import(study=study, data=(HEADER + "c1.png,rater1,9,9,9,9").encode(), allow_missing_images=True)
    assert seen_while_parsing == [False] and gc.isenabled()


def test_left_off_when_it_was_off():
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_on_again_after_an_error_inside():
    with pytest.raises(ZeroDivisionError), collector_paused():
        assert not gc.isenabled()
        1 / 0  # noqa: B018
    assert gc.isenabled()
