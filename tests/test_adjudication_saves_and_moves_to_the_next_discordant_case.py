"""The adjudication page: every rater's scores side by side under the rubric's labels, with the
range that sent the case there; "Record final score and next" goes on through the adjudication
queue and back to the report when it is empty; "Next discordant case" skips without saving."""

import re

import pytest

from annotation.models import Adjudication
from scoring.selectors import adjudication_next, adjudication_queue, case_adjudication_sheet
from tests.adjudication_support import FINAL, adjudicate_url, discordant_study_create


@pytest.fixture
def study(make_study, personas):
    return discordant_study_create(make_study, personas)


def _scores_table(html: str) -> str:
    return re.search(r'<table class="scores".*?</table>', html, re.S).group(0)


def test_the_raters_scores_are_labelled_from_the_rubric_with_consensus_and_range(study, client_for):
    html = client_for("olivia").get(adjudicate_url(study, "img-001.png")).content.decode()
    table = _scores_table(html)
    for label in ("Geographic extent, right lung", "Opacity, left lung", "Geographic extent", "Opacity", "Range"):
        assert label in table
    assert not re.search(r"geographic_extent|extent_right|opacity_left", table)  # no raw keys
    assert [th for th in re.findall(r'<th scope="col">(rater\d)</th>', table)] == ["rater1", "rater2", "rater3"]
    # Geographic extent: 0, 8 and 3: a range of 8 over the study's threshold of 3, marked as why.
    row = re.search(r'<tr class="total-row over">\s*<th scope="row">Geographic extent.*?</tr>', table, re.S).group(0)
    assert re.findall(r"<td>(\d)</td>", row) == ["0", "8", "3"] and "3.7" in row and "8 <span" in row
    assert "Sent here: <strong>geographic extent</strong> spans 8" in html
    assert "(threshold 3)" in html


def test_the_heading_is_the_place_in_the_queue_not_the_filename(study, client_for):
    html = client_for("olivia").get(adjudicate_url(study, "img-003.png")).content.decode()
    heading = re.search(r'<h1 class="case-title">(.*?)</h1>', html, re.S).group(1)
    assert "Case 2" in heading and "of 2 waiting" in heading and "img-" not in heading
    assert "img-003.png" in html  # not blind: the filename is shown, below the heading


def test_save_and_next_goes_through_the_queue_then_back_to_the_report(study, client_for):
    client = client_for("olivia")
    first = client.post(adjudicate_url(study, "img-001.png"), {**FINAL, "note": "bases clear"})
    assert first.status_code == 302 and first["Location"] == adjudicate_url(study, "img-003.png")
    case = study.cases.get(original_filename="img-001.png")
    assert case.adjudications.get().totals == {"geographic_extent": 4, "opacity": 3}
    page = client.get(first["Location"]).content.decode()
    assert "Final score recorded" in page and "1 case waiting" in page

    last = client.post(adjudicate_url(study, "img-003.png"), FINAL)
    assert last.status_code == 302 and last["Location"] == f"/studies/{study.slug}/report/"
    assert "No case waits for adjudication now" in client.get(last["Location"]).content.decode()
    assert adjudication_queue(study=study) == []


def test_next_discordant_case_skips_without_saving_and_wraps_round(study, client_for):
    html = client_for("olivia").get(adjudicate_url(study, "img-003.png")).content.decode()
    skip = re.search(r'<a class="button" data-nav="next" href="([^"]+)"', html).group(1)
    assert skip == adjudicate_url(study, "img-001.png")  # after the last case: the first one again
    assert not Adjudication.objects.exists()
    queue = adjudication_queue(study=study)
    agreed = study.cases.get(original_filename="img-002.png")
    assert adjudication_next(queue=queue, after=agreed) == study.cases.get(original_filename="img-003.png").public_id


def test_a_half_filled_final_score_is_refused_and_the_choices_stay(study, client_for):
    response = client_for("olivia").post(adjudicate_url(study, "img-001.png"), {"extent_right": "3"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="form-error"' in html and "hidden>" not in re.search(
        r'<p class="error"[^>]*id="form-error"[^>]*>', html
    ).group(0)
    assert re.search(r'name="extent_right" value="3"\s+checked', html)
    assert not Adjudication.objects.exists()


def test_a_case_the_raters_agree_on_does_not_wait_but_can_be_viewed(study, client_for):
    html = client_for("olivia").get(adjudicate_url(study, "img-000.png")).content.decode()
    assert "does not wait for adjudication" in html and "Sent here" not in html
    sheet = case_adjudication_sheet(case=study.cases.get(original_filename="img-000.png"))
    assert sheet.position is None and sheet.waiting == 2 and sheet.reasons == []


def test_an_owner_who_is_not_an_adjudicator_sees_the_case_without_the_form(study, client_for):
    html = client_for("alice").get(adjudicate_url(study, "img-001.png")).content.decode()
    assert "Only an adjudicator records a final score" in html
    assert 'id="submit"' not in html and "disabled" in html
    assert client_for("alice").post(adjudicate_url(study, "img-001.png"), FINAL).status_code == 404
