"""The owner's case browser: paged (no silent cut-off at 500 rows), searchable by filename and
patient, filterable and sortable; adjudicators read it, a blind adjudicator without filenames."""

import re

import pytest

from annotation.models import Case
from annotation.services import case_exclude, membership_set_adjudicator
from tests.repair_support import read_some

LINK = re.compile(r'href="/studies/s1/cases/([\w-]+)/"')


def _ids_on(response) -> list[str]:
    return list(dict.fromkeys(LINK.findall(response.content.decode())))


@pytest.fixture
def big_study(make_study):
    """620 cases (the study in the issue): 4 with images, 616 from imported ratings."""
    study = make_study(n_cases=4)
    Case.objects.bulk_create(
        [Case(study=study, original_filename=f"bulk-{i:04d}.png", patient_id=f"P{i // 2:04d}") for i in range(616)]
    )
    return study


def test_every_case_is_on_some_page_once(big_study, client_for):
    owner = client_for("alice")
    first = owner.get("/studies/s1/cases/")
    assert first.status_code == 200
    assert "620 cases" in first.content.decode()
    seen, page = [], 1
    while True:
        response = owner.get("/studies/s1/cases/", {"page": page})
        ids = _ids_on(response)
        seen.extend(ids)
        if 'rel="next"' not in response.content.decode():
            break
        page += 1
    assert page == 13  # 50 a page
    assert len(seen) == len(set(seen)) == 620
    assert set(seen) == set(Case.objects.filter(study=big_study).values_list("public_id", flat=True))


def test_search_filter_and_sort(big_study, client_for, personas):
    owner = client_for("alice")
    by_patient = owner.get("/studies/s1/cases/", {"q": "P0101"})
    assert _ids_on(by_patient) and len(_ids_on(by_patient)) == 2
    assert "bulk-0202.png" in by_patient.content.decode() and "bulk-0203.png" in by_patient.content.decode()
    by_name = owner.get("/studies/s1/cases/", {"q": "img-002"})
    assert len(_ids_on(by_name)) == 1

    case = Case.objects.get(study=big_study, original_filename="img-001.png")
    case_exclude(case=case, reason="lateral view", actor=None)
    excluded = owner.get("/studies/s1/cases/", {"filter": "excluded"})
    assert _ids_on(excluded) == [case.public_id]

    read_some(
        big_study,
        personas["rater1"],
        1,
        values={"extent_right": 4, "extent_left": 4, "opacity_right": 3, "opacity_left": 3},
    )
    read_some(
        big_study,
        personas["rater2"],
        4,
        values={"extent_right": 0, "extent_left": 0, "opacity_right": 0, "opacity_left": 0},
    )
    discordant = _ids_on(owner.get("/studies/s1/cases/", {"filter": "discordant"}))
    awaiting = _ids_on(owner.get("/studies/s1/cases/", {"filter": "awaiting"}))
    assert len(discordant) == 1 and awaiting == discordant
    incomplete = _ids_on(owner.get("/studies/s1/cases/", {"filter": "incomplete"}))
    assert len(incomplete) == 3  # the three cases with images left in the analysis, reads still to do

    newest = _ids_on(owner.get("/studies/s1/cases/", {"sort": "added"}))
    assert newest[0] == Case.objects.filter(study=big_study).order_by("-pk").first().public_id
    # Nonsense from a hand-edited link falls back to the defaults rather than an error.
    assert owner.get("/studies/s1/cases/", {"filter": "nope", "sort": "nope", "page": "x"}).status_code == 200


def test_adjudicators_read_it_and_blind_ones_see_no_filename(big_study, client_for, personas):
    assert client_for("olivia").get("/studies/s1/cases/").status_code == 404  # an observer, not an adjudicator
    for name in ("rater1", "oscar"):
        assert client_for(name).get("/studies/s1/cases/").status_code == 404
    membership_set_adjudicator(study=big_study, user=personas["olivia"], allowed=True)
    page = client_for("olivia").get("/studies/s1/cases/", {"q": "img-000"}).content.decode()
    assert "img-000.png" in page and "read-only" in page
    big_study.adjudication_blind = True
    big_study.save()
    blind = client_for("olivia").get("/studies/s1/cases/").content.decode()
    assert "img-0" not in blind and "bulk-" not in blind and "P0001" not in blind
    assert len(_ids_on(client_for("olivia").get("/studies/s1/cases/"))) == 50
    # A filename typed into the search finds nothing: blind adjudicators search by case id only.
    assert _ids_on(client_for("olivia").get("/studies/s1/cases/", {"q": "img-000"})) == []
    case_id = Case.objects.get(study=big_study, original_filename="img-000.png").public_id
    assert _ids_on(client_for("olivia").get("/studies/s1/cases/", {"q": case_id})) == [case_id]
    assert "img-000.png" in client_for("alice").get("/studies/s1/cases/", {"q": "img-000"}).content.decode()
