"""The report page draws a finished report's tables and figure links once and then serves them from
the cache, without reading the stored statistics or figures again; the kept rendering is the
visitor's own kind (a blind adjudicator never receives the one with rater names), and new ratings,
hence a new report, are shown at once."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.csv_io import ratings_csv_import
from annotation.services import membership_set_adjudicator
from scoring.models import AgreementReport
from scoring.services import agreement_report_execute, agreement_report_request

RATERS = ("rater1", "rater2", "rater3")


def _ratings(n_cases: int) -> bytes:
    rows = [
        f"c{i}.png,{rater},{(i + r) % 5},{i % 5},{(i + r) % 4},{r % 4}"
        for i in range(n_cases)
        for r, rater in enumerate(RATERS)
    ]
    return ("image,rater,extent_right,extent_left,opacity_right,opacity_left\n" + "\n".join(rows)).encode()


def _computed(study) -> AgreementReport:
    report = agreement_report_request(study=study)
    agreement_report_execute(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == AgreementReport.Status.DONE
    return report


def _page(client, study) -> tuple[str, list[str]]:
    """The page without its per-request CSRF token, and the queries it took."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/studies/{study.slug}/report/")
    assert response.status_code == 200
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())
    return page, [q["sql"] for q in captured]


def _reads_report_content(queries: list[str]) -> bool:
    return any('"scoring_agreementreport"."data"' in q or '"scoring_agreementreport"."plots"' in q for q in queries)


@pytest.fixture
def reported(make_study):
    study = make_study(n_cases=0, open_it=False)
    ratings_csv_import(study=study, data=_ratings(8), allow_missing_images=True)
    return study, _computed(study)


def test_the_second_visit_reads_neither_statistics_nor_figures(reported, client_for):
    study, report = reported
    owner = client_for("alice")
    first, first_queries = _page(owner, study)
    second, second_queries = _page(owner, study)
    assert _reads_report_content(first_queries)
    assert not _reads_report_content(second_queries)
    assert second == first
    assert f"/report/{report.pk}/figures/" in second and "24 current ratings" in second


def test_a_blind_adjudicator_never_gets_the_rendering_with_names(reported, client_for, personas):
    study, _ = reported
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True)
    study.adjudication_blind = True
    study.save(update_fields=["adjudication_blind"])
    named, _ = _page(client_for("alice"), study)  # the owner's rendering is cached first
    assert "rater1" in named
    blind, queries = _page(client_for("olivia"), study)
    assert _reads_report_content(queries)  # drawn for this kind of visitor, not taken from the owner's
    assert not any(name in blind for name in RATERS)
    assert "/figures/" not in blind
    again, queries = _page(client_for("olivia"), study)
    assert again == blind and not _reads_report_content(queries)


def test_new_ratings_show_in_the_next_report_at_once(reported, client_for):
    study, _ = reported
    owner = client_for("alice")
    assert "24 current ratings" in _page(owner, study)[0]
    ratings_csv_import(study=study, data=_ratings(10), allow_missing_images=True)
    _computed(study)
    assert "30 current ratings" in _page(owner, study)[0]
