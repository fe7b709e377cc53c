"""In a study with blind adjudication, an adjudicator who is not an owner finds no filename on the
agreement report page (its adjudication queue names cases by id) nor in the consensus export, and
no rater's name in the report (page, JSON, CSV, API) or the API; the owner still sees both."""

import csv
import io
import re

import pytest

from annotation.csv_io import ratings_csv_import
from annotation.services import membership_set_adjudicator

RATINGS = """image,rater,extent_right,extent_left,opacity_right,opacity_left
secret-name-a.png,rater1,1,1,1,1
secret-name-a.png,rater2,1,1,1,1
secret-name-b.png,rater1,0,0,0,0
secret-name-b.png,rater2,4,4,3,3
"""


@pytest.fixture
def blind_study(make_study, personas):
    study = make_study(n_cases=0, open_it=False)
    ratings_csv_import(study=study, data=RATINGS.encode(), allow_missing_images=True)
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True)
    study.adjudication_blind = True
    study.save(update_fields=["adjudication_blind"])
    return study


def test_the_blind_adjudicator_reads_case_ids_not_filenames(blind_study, client_for):
    client = client_for("olivia")
    page = client.get(f"/studies/{blind_study.slug}/report/").content.decode()
    export = client.get(f"/studies/{blind_study.slug}/export/consensus.csv").content.decode()

    case_b = blind_study.cases.get(original_filename="secret-name-b.png")
    assert "secret-name" not in page and "secret-name" not in export
    assert f"<code>{case_b.public_id}</code>" in page  # the queue, by case id
    rows = list(csv.DictReader(io.StringIO(export)))
    # An id that starts with "-" leaves the safe CSV writer with a leading quote.
    assert {row["case_id"].removeprefix("'") for row in rows} == set(
        blind_study.cases.values_list("public_id", flat=True)
    )
    assert {row["image"] for row in rows} == {""}


def test_the_owner_of_a_blind_study_still_reads_the_filenames(blind_study, client_for):
    client = client_for("alice")
    page = client.get(f"/studies/{blind_study.slug}/report/").content.decode()
    export = client.get(f"/studies/{blind_study.slug}/export/consensus.csv").content.decode()
    assert "secret-name-b.png" in page and "secret-name-a.png" in export and "secret-name-b.png" in export


def test_without_blinding_the_adjudicator_reads_the_filenames(blind_study, client_for):
    blind_study.adjudication_blind = False
    blind_study.save(update_fields=["adjudication_blind"])
    client = client_for("olivia")
    assert "secret-name-b.png" in client.get(f"/studies/{blind_study.slug}/report/").content.decode()
    assert "secret-name-b.png" in client.get(f"/studies/{blind_study.slug}/export/consensus.csv").content.decode()


def test_the_api_is_as_blind_as_the_pages(blind_study, personas):
    from tests.api_support import API, api_client

    client = api_client(personas["olivia"])
    case_b = blind_study.cases.get(original_filename="secret-name-b.png")
    answers = [
        client.get(f"{API}/studies/{blind_study.slug}/consensus/"),
        client.get(f"{API}/studies/{blind_study.slug}/exports/consensus.csv"),
        client.get(f"{API}/studies/{blind_study.slug}/adjudications/{case_b.public_id}/"),
    ]
    for answer in answers:
        assert answer.status_code == 200
        body = answer.content.decode()
        assert "secret-name" not in body
        assert "rater1" not in body and "rater2" not in body
    assert (
        "secret-name-b.png"
        in api_client(personas["alice"]).get(f"{API}/studies/{blind_study.slug}/consensus/").content.decode()
    )


def test_the_report_names_raters_by_letter_for_a_blind_adjudicator(blind_study, client_for, personas):
    from scoring.models import AgreementReport
    from scoring.services import agreement_report_execute, agreement_report_request
    from tests.api_support import API, api_client

    report = agreement_report_request(study=blind_study)
    agreement_report_execute(report_id=report.pk)
    assert AgreementReport.objects.get(pk=report.pk).status == AgreementReport.Status.DONE
    client = client_for("olivia")
    answers = {
        "page": client.get(f"/studies/{blind_study.slug}/report/").content.decode(),
        "json": client.get(f"/studies/{blind_study.slug}/report.json").content.decode(),
        "csv": client.get(f"/studies/{blind_study.slug}/report.csv").content.decode(),
        "api": api_client(personas["olivia"]).get(f"{API}/studies/{blind_study.slug}/report/").content.decode(),
    }
    for where, body in answers.items():
        assert "rater1" not in body and "rater2" not in body, where
    assert re.search(r"Rater [A-C]", answers["page"]) and re.search(r"Rater [A-C]", answers["json"])
    assert "<figure" not in answers["page"]  # the figures name the raters
    owner = client_for("alice").get(f"/studies/{blind_study.slug}/report/").content.decode()
    assert "rater1" in owner and "<figure" in owner
