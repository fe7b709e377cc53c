"""The report page links each figure as its own SVG image instead of carrying them as data: URLs
(megabytes for a large study): owners and observers get them, raters, outsiders and blind
adjudicators a 404; the SVG may style itself inline, nothing more."""

import pytest

from annotation.csv_io import ratings_csv_import
from annotation.services import membership_set_adjudicator
from scoring.models import AgreementReport
from scoring.services import agreement_report_execute, agreement_report_request

RATINGS = "image,rater,extent_right,extent_left,opacity_right,opacity_left\n" + "\n".join(
    f"c{i}.png,{rater},{(i + r) % 5},{i % 5},{(i + r) % 4},{r % 4}"
    for i in range(8)
    for r, rater in enumerate(("rater1", "rater2", "rater3"))
)


@pytest.fixture
def reported(make_study):
    study = make_study(n_cases=0, open_it=False)
    ratings_csv_import(study=study, data=RATINGS.encode(), allow_missing_images=True)
    report = agreement_report_request(study=study)
    agreement_report_execute(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == AgreementReport.Status.DONE and report.plots
    return study, report


def test_the_page_links_figures_that_owners_and_observers_get(reported, client_for):
    study, report = reported
    page = client_for("alice").get(f"/studies/{study.slug}/report/").content.decode()
    assert "data:image/svg+xml" not in page
    url = f"/studies/{study.slug}/report/{report.pk}/figures/geographic_extent/scatter.svg"
    assert f'src="{url}"' in page
    for name in ("alice", "olivia"):
        response = client_for(name).get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
        assert response.content.decode().lstrip().startswith(("<?xml", "<svg"))
        policy = response["Content-Security-Policy"]
        assert "style-src 'unsafe-inline'" in policy and "script-src 'none'" in policy
    for name in ("rater1", "oscar", "cora"):
        assert client_for(name).get(url).status_code == 404
    missing = f"/studies/{study.slug}/report/{report.pk}/figures/geographic_extent/nothing.svg"
    assert client_for("alice").get(missing).status_code == 404


def test_a_blind_adjudicator_gets_no_figure(reported, client_for, personas):
    study, report = reported
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True)
    study.adjudication_blind = True
    study.save(update_fields=["adjudication_blind"])
    url = f"/studies/{study.slug}/report/{report.pk}/figures/geographic_extent/scatter.svg"
    assert client_for("olivia").get(url).status_code == 404
    assert client_for("alice").get(url).status_code == 200
