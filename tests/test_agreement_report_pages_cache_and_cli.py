"""The agreement report end to end: import a past study, compute, cache, serve to the right people."""

import json

import pytest
from django.core.management import call_command

from annotation.csv_io import ratings_csv_import
from annotation.models import Assignment
from annotation.services import rating_submit
from scoring.models import AgreementReport
from tests.conftest import COHEN_VALUES

# A past reader study: 6 images we do not have, 3 raters, one rating missing (rater3, img5).
PAST_STUDY = """image,rater,extent_right,extent_left,opacity_right,opacity_left,duration_s
img1.png,rater1,1,1,1,1,30
img1.png,rater2,1,2,1,1,25
img1.png,rater3,2,1,1,1,
img2.png,rater1,3,3,2,2,
img2.png,rater2,4,3,2,2,
img2.png,rater3,3,4,2,3,
img3.png,rater1,0,0,0,0,
img3.png,rater2,0,1,0,1,
img3.png,rater3,0,0,0,0,
img4.png,rater1,2,2,1,1,
img4.png,rater2,4,4,3,3,
img4.png,rater3,1,1,1,1,
img5.png,rater1,4,4,3,3,
img5.png,rater2,4,3,3,2,
img6.png,rater1,2,1,1,1,
img6.png,rater2,2,2,1,1,
img6.png,rater3,2,1,2,1,
"""


@pytest.fixture
def past_study(make_study):
    study = make_study(n_cases=0, open_it=False)
    assert ratings_csv_import(study=study, data=PAST_STUDY.encode(), allow_missing_images=True) == 17
    return study


def _json(capsys, *args):
    call_command("agreement_report", *args)
    return json.loads(capsys.readouterr().out)


def test_cli_json_has_the_documented_shape_for_every_total_and_item(past_study, capsys):
    data = _json(capsys, past_study.slug, "--format", "json", "--bootstrap", "50", "--seed", "3")
    assert (data["study"], data["rubric"], data["n_cases"], data["n_raters"], data["n_ratings"]) == (
        "s1",
        "cohen2020",
        6,
        3,
        17,
    )
    assert set(data["scores"]) == {
        "geographic_extent",
        "opacity",
        "extent_right",
        "extent_left",
        "opacity_right",
        "opacity_left",
    }
    score = data["scores"]["geographic_extent"]
    assert score["n_cases"] == 6
    assert set(score["krippendorff_alpha"]) == {"nominal", "ordinal", "interval", "ratio"}
    assert set(score["icc"]) == {"ICC1_1", "ICC2_1", "ICC3_1", "ICC1_k", "ICC2_k", "ICC3_k"}
    assert score["icc_n_cases"] == 6  # img5 lacks rater3 and still counts (issue 15: incomplete designs)
    assert score["icc"]["ICC2_1"]["estimator"] == "reml_two_way_random"
    for key in ("fleiss_kappa", "weighted_kappa", "exact_agreement", "within_one", "raters", "bland_altman"):
        assert key in score
    for key in ("gwet_ac1", "gwet_ac2", "lin_ccc", "variance_components", "fleiss_kappa_n_cases", "icc_estimator"):
        assert key in score
    assert set(score["raters"]) == {"rater1", "rater2", "rater3"}
    alpha = score["krippendorff_alpha"]["interval"]
    assert -1 <= alpha["value"] <= 1 and alpha["ci95"][0] <= alpha["ci95"][1]


def test_cli_is_reproducible_with_a_seed(past_study, capsys):
    first = _json(capsys, past_study.slug, "--bootstrap", "40", "--seed", "7")
    second = _json(capsys, past_study.slug, "--bootstrap", "40", "--seed", "7")
    assert first == second


def test_cli_csv_and_html(past_study, capsys):
    call_command("agreement_report", past_study.slug, "--format", "csv", "--bootstrap", "20")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "score,statistic,variant,value,ci95_low,ci95_high,n_cases,note"
    assert any(line.startswith("geographic_extent,krippendorff_alpha,interval,") for line in lines)
    call_command("agreement_report", past_study.slug, "--format", "html", "--bootstrap", "20")
    html = capsys.readouterr().out
    assert "data:image/svg+xml;base64," in html and "Krippendorff" in html and "Bland-Altman" in html


def test_unknown_study_is_a_clear_error(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no study with slug 'nope'"):
        call_command("agreement_report", "nope")


def test_report_of_a_study_without_ratings_says_so_and_has_no_nan(make_study, capsys):
    study = make_study(n_cases=2)
    data = _json(capsys, study.slug, "--bootstrap", "10")
    assert data["n_cases"] == 0
    json.dumps(data, allow_nan=False)


def test_web_report_is_computed_by_a_task_then_cached_until_ratings_change(
    past_study, client_for, django_capture_on_commit_callbacks
):
    client = client_for("alice")
    not_asked = client.get(f"/studies/{past_study.slug}/report.json")
    assert not_asked.status_code == 409 and not_asked.json()["status"] == "not_requested"
    assert AgreementReport.objects.count() == 0  # a GET starts nothing
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(f"/studies/{past_study.slug}/report/compute/")
    # Computed by the (eager) task after commit: the next request is served from the cache.
    assert first.status_code == 302
    second = client.get(f"/studies/{past_study.slug}/report.json")
    assert second.status_code == 200
    data = second.json()
    assert data["n_cases"] == 6 and data["n_ratings"] == 17
    assert AgreementReport.objects.count() == 1
    client.get(f"/studies/{past_study.slug}/report.json")
    assert AgreementReport.objects.count() == 1

    past_study.status = "open"
    past_study.save()
    assignment = Assignment.objects.filter(study=past_study, rater__username="rater1").first()
    rating_submit(assignment=assignment, values=COHEN_VALUES)
    assert client.get(f"/studies/{past_study.slug}/report.json").status_code == 409  # stale: ask again
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/studies/{past_study.slug}/report/compute/")
    assert AgreementReport.objects.count() == 2
    assert client.get(f"/studies/{past_study.slug}/report.json").json()["n_ratings"] == 17


def test_report_page_shows_progress_while_queued_and_figures_when_done(
    past_study, client_for, django_capture_on_commit_callbacks
):
    client = client_for("alice")
    page = client.get(f"/studies/{past_study.slug}/report/").content.decode()
    assert "Compute the report" in page and AgreementReport.objects.count() == 0
    client.post(f"/studies/{past_study.slug}/report/compute/")
    page = client.get(f"/studies/{past_study.slug}/report/").content.decode()  # on_commit not run: still queued
    assert "Computing the report" in page
    report = AgreementReport.objects.get()
    report.status = "queued"
    report.save()
    from scoring.services import agreement_report_execute

    agreement_report_execute(report_id=report.pk)
    page = client.get(f"/studies/{past_study.slug}/report/").content.decode()
    # The page links its figures as images; the standalone HTML (the command) embeds them.
    assert "How to read this" in page and "/figures/geographic_extent/scatter.svg" in page
    assert "Adjudication queue" in page


def test_observer_reads_the_report_rater_and_outsider_get_404(past_study, client_for):
    assert client_for("olivia").get(f"/studies/{past_study.slug}/report/").status_code == 200
    for name in ("rater1", "oscar"):
        client = client_for(name)
        for url in ("report/", "report.json", "report.csv", "export/consensus.csv"):
            assert client.get(f"/studies/{past_study.slug}/{url}").status_code == 404, (name, url)


def test_observer_does_not_see_filenames_in_the_adjudication_queue(past_study, client_for):
    body = client_for("olivia").get(f"/studies/{past_study.slug}/report/").content.decode()
    assert "img4.png" not in body
    assert client_for("olivia").get(f"/studies/{past_study.slug}/export/consensus.csv").status_code == 404
