"""A rater's own case list (Your cases): every one of their cases as "Case 1..N" in their own order,
numbered as the reading page numbers them, with its state and a link to it. Blinded like the reading
room: only their own opaque ids; no filename, metadata, other rater or model output.
"""

import re

from annotation.models import Assignment
from annotation.services import (
    assignment_flag,
    images_import,
    membership_add,
    rating_submit,
    study_create,
    study_open,
    study_update,
)
from tests.conftest import COHEN_VALUES, image_sources
from tests.security_support import leaks, rich_study_create, secrets_for_rater
from tests.test_model_assisted_reading_shown_and_crossover import predict_all

TILE = re.compile(
    r'<a class="case-tile state-(\w+)[^"]*" href="/read/([\w-]+)/"[^>]*>\s*'
    r'<span class="tile-title">Case (\d+)</span>\s*<span class="tile-state">([^<]*)</span>'
)


def _tiles(body: str) -> list[tuple[str, str, int, str]]:
    return [(state, public_id, int(n), label.strip()) for state, public_id, n, label in TILE.findall(body)]


def test_rater_sees_each_own_case_in_own_order_with_its_state(make_study, personas, client_for):
    study = make_study(n_cases=5, raters=("rater1", "rater2"), raters_per_case=2)
    mine = list(Assignment.objects.filter(study=study, rater=personas["rater1"]).order_by("order_key"))
    rating_submit(assignment=mine[1], values=COHEN_VALUES)
    rating_submit(assignment=mine[1], values={**COHEN_VALUES, "extent_right": 4})
    rating_submit(assignment=mine[2], values=COHEN_VALUES)
    assignment_flag(assignment=mine[3], reason="wrong_view")
    others = list(Assignment.objects.filter(study=study, rater=personas["rater2"]).values_list("public_id", flat=True))

    response = client_for("rater1").get(f"/studies/{study.slug}/my-cases/?at={mine[2].public_id}")
    body = response.content.decode()
    assert response.status_code == 200
    assert _tiles(body) == [
        ("todo", mine[0].public_id, 1, "To do"),
        ("scored", mine[1].public_id, 2, "Scored · 2 revisions"),
        ("scored", mine[2].public_id, 3, "Scored"),
        ("flagged", mine[3].public_id, 4, "Flagged"),
        ("todo", mine[4].public_id, 5, "To do"),
    ]
    assert "2 to do, 2 scored, 1 flagged" in body
    # The case the rater came from is marked and offered back; the first case to do is offered too.
    assert body.count('aria-current="page"') == 1 and f'href="/read/{mine[2].public_id}/" aria-current' in body
    assert f'class="button primary" href="/read/{mine[0].public_id}/"' in body
    # The reading page numbers the cases the same way.
    page = client_for("rater1").get(f"/read/{mine[3].public_id}/").content.decode()
    assert "Case 4 <span" in page and f"/studies/{study.slug}/my-cases/?at={mine[3].public_id}" in page
    # Blinding: nothing of the other rater, no filename.
    assert not [public_id for public_id in others if public_id in body]
    assert "rater2" not in body and "img-0" not in body


def test_case_list_leaks_nothing_of_others_filenames_metadata_or_model(personas, client_for):
    rich = rich_study_create(personas)  # scores and flags of others, metadata, an active model
    client = client_for("rater1")
    theirs = rich.assignment_ids["rater2"][0]
    for url in (f"/studies/{rich.study.slug}/my-cases/", f"/studies/{rich.study.slug}/my-cases/?at={theirs}"):
        response = client.get(url)
        assert response.status_code == 200
        assert leaks(response, secrets_for_rater(rich), asked=url) == []
        body = response.content.decode()
        assert [public_id for _, public_id, _, _ in _tiles(body)] == rich.assignment_ids["rater1"]
        assert 'aria-current="page"' not in body  # someone else's id marks nothing
    for name in ("rater2", "olivia", "oscar"):  # another rater has their own list; others have none
        expected = 200 if name == "rater2" else 404
        assert client_for(name).get(f"/studies/{rich.study.slug}/my-cases/").status_code == expected


def test_crossover_reads_are_listed_each_as_its_own_case_without_saying_which_is_aided(personas, client_for):
    study = study_create(owner=personas["alice"], slug="cross", title="Crossover", rubric="cohen2020")
    study_update(
        study=study,
        title="Crossover",
        rubric="cohen2020",
        raters_per_case=1,
        model_assistance="crossover",
        crossover_gap=1,
    )
    membership_add(study=study, user=personas["rater1"], role="rater")
    images_import(study=study, sources=image_sources(3))
    study_open(study=study)
    predict_all(study, value=4.4)
    reads = list(Assignment.objects.filter(study=study, rater=personas["rater1"]).order_by("order_key"))
    assert len(reads) == 6 and sum(read.aided for read in reads) == 3

    body = client_for("rater1").get("/studies/cross/my-cases/").content.decode()
    assert [(public_id, n) for _, public_id, n, _ in _tiles(body)] == [(r.public_id, i) for i, r in enumerate(reads, 1)]
    for hint in ("4.4", "pre-score", "aided", "Aided", "img-0"):
        assert hint not in body
