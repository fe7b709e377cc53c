"""An observer made adjudicator sees the image of the case they adjudicate (it used to be a 404):
the case image is for everyone who may read cases (owners, adjudicators), and still a 404 for a
plain observer, the raters and outsiders."""

import pytest

from annotation.services import membership_set_adjudicator
from tests.adjudication_support import discordant_study_create


@pytest.fixture
def study(make_study, personas):
    study = discordant_study_create(make_study, personas)
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=False)
    return study


def _image_url(study) -> str:
    case = study.cases.get(original_filename="img-001.png")
    return f"/studies/{study.slug}/cases/{case.public_id}/image.png"


def test_the_adjudicator_observer_gets_the_image_the_adjudication_page_shows(study, personas, client_for):
    assert client_for("olivia").get(_image_url(study)).status_code == 404  # not an adjudicator yet
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True)
    client = client_for("olivia")
    case = study.cases.get(original_filename="img-001.png")
    page = client.get(f"/studies/{study.slug}/adjudicate/{case.public_id}/").content.decode()
    assert f'src="{_image_url(study)}"' in page
    response = client.get(_image_url(study))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"


@pytest.mark.parametrize(
    "who, status", [("alice", 200), ("olivia", 404), ("rater1", 404), ("oscar", 404), ("cora", 404)]
)
def test_owners_read_the_image_plain_observers_raters_and_outsiders_get_404(study, client_for, who, status):
    assert client_for(who).get(_image_url(study)).status_code == status


def test_the_right_taken_back_closes_the_image_again(study, personas, client_for):
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True)
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=False)
    assert client_for("olivia").get(_image_url(study)).status_code == 404
