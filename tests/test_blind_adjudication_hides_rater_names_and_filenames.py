"""Blind adjudication (Study.adjudication_blind): the adjudicator sees the raters as "Rater A, B,
C", the same letter for the same rater on every case, and the case without its filename, on the
page and over the API. Without it, the page names the raters and the file. The owner turns it on
or off on the settings form at any time."""

import re

import pytest

from annotation.models import StudyMembership
from annotation.services import membership_add, membership_set_adjudicator
from scoring.selectors import case_ratings_for_adjudicator, study_rater_labels
from tests.adjudication_support import DISCORDANT, adjudicate_url, discordant_study_create
from tests.api_support import API, api_client

RATERS = ("rater1", "rater2", "rater3")


@pytest.fixture
def blind_study(make_study, personas):
    return discordant_study_create(make_study, personas, blind=True)


@pytest.mark.parametrize("who", ["olivia", "alice"])
def test_blind_page_names_no_rater_and_no_file(blind_study, personas, client_for, who):
    membership_set_adjudicator(study=blind_study, user=personas[who], allowed=True)  # the owner too
    html = client_for(who).get(adjudicate_url(blind_study, "img-001.png")).content.decode()
    assert not re.search(r"rater[123]|img-\d{3}", html)
    assert re.findall(r'<th scope="col">(Rater [A-Z])</th>', html) == ["Rater A", "Rater B", "Rater C"]
    assert "Record final score" in html  # the adjudicator still scores


def test_each_rater_keeps_one_letter_on_every_case(blind_study):
    high = DISCORDANT["rater2"]  # rater2 reads every discordant case high: their column is found by it
    letters = set()
    for filename in ("img-001.png", "img-003.png"):
        rows = case_ratings_for_adjudicator(case=blind_study.cases.get(original_filename=filename))
        letters |= {row["rater"] for row in rows if row["values"] == high}
        assert sorted(row["rater"] for row in rows) == ["Rater A", "Rater B", "Rater C"]
    assert len(letters) == 1


def test_a_rater_added_later_takes_the_next_letter_and_the_others_keep_theirs(blind_study, personas, make_user):
    before = study_rater_labels(study=blind_study)
    assert sorted(before.values()) == ["Rater A", "Rater B", "Rater C"]
    rater4 = make_user("rater4")
    membership_add(study=blind_study, user=rater4, role=StudyMembership.Role.RATER)
    assert study_rater_labels(study=blind_study) == {**before, rater4.pk: "Rater D"}


def test_blind_api_names_no_rater(blind_study, personas):
    case = blind_study.cases.get(original_filename="img-001.png")
    body = api_client(personas["olivia"]).get(f"{API}/studies/{blind_study.slug}/adjudications/{case.public_id}/")
    assert sorted(row["rater"] for row in body.json()["ratings"]) == ["Rater A", "Rater B", "Rater C"]


def test_without_blinding_the_page_names_the_raters_and_the_file(make_study, personas, client_for):
    study = discordant_study_create(make_study, personas, blind=False)
    html = client_for("olivia").get(adjudicate_url(study, "img-001.png")).content.decode()
    assert re.findall(r'<th scope="col">(rater\d)</th>', html) == list(RATERS)
    assert "img-001.png" in html and "Rater A" not in html


def test_the_owner_turns_blinding_on_and_off_in_the_settings_of_an_open_study(blind_study, client_for):
    client = client_for("alice")
    page = client.get(f"/studies/{blind_study.slug}/").content.decode()
    assert "checked" in re.search(r'<input[^>]*name="adjudication_blind"[^>]*>', page).group(0)
    settings = {
        "title": blind_study.title,
        "rubric": blind_study.rubric,
        "raters_per_case": blind_study.raters_per_case,
        "consensus_method": blind_study.consensus_method,
        "adjudication_range": blind_study.adjudication_range,
        "model_assistance": blind_study.model_assistance,
        "crossover_gap": blind_study.crossover_gap,
    }
    assert blind_study.status == "open"
    client.post(f"/studies/{blind_study.slug}/settings/", settings)  # the box left unticked
    blind_study.refresh_from_db()
    assert blind_study.adjudication_blind is False
    client.post(f"/studies/{blind_study.slug}/settings/", {**settings, "adjudication_blind": "on"})
    blind_study.refresh_from_db()
    assert blind_study.adjudication_blind is True
