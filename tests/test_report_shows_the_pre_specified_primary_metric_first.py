"""The agreement report shows the study's pre-specified primary metric first, labelled as such, with
its value, CI and cases; when none was pre-specified it says so (issue 15, Reporting)."""

import pytest

from annotation.services import study_update
from scoring.services import agreement_report_execute, agreement_report_request
from tests.conftest import imported_ratings_study


@pytest.fixture
def study(make_study):
    return imported_ratings_study(make_study, n_images=15)


def _plan(study, metric: str, score: str) -> None:
    study_update(
        study=study,
        title=study.title,
        rubric=study.rubric,
        raters_per_case=3,
        primary_metric=metric,
        primary_score=score,
    )


def _report(study, client_for) -> tuple[dict, str]:
    agreement_report_execute(report_id=agreement_report_request(study=study).pk)
    data = client_for("alice").get(f"/studies/{study.slug}/report.json").json()
    return data, client_for("alice").get(f"/studies/{study.slug}/report/").content.decode()


@pytest.mark.parametrize(
    ("metric", "path", "value_key"),
    [
        ("krippendorff_alpha", ("krippendorff_alpha", "interval"), "value"),
        ("icc_2_1", ("icc", "ICC2_1"), "value"),
        ("weighted_kappa", ("weighted_kappa",), "mean"),
    ],
)
def test_the_json_has_the_primary_metric_with_its_value_ci_and_cases(study, client_for, metric, path, value_key):
    _plan(study, metric, "geographic_extent")
    data, _ = _report(study, client_for)
    entry = data["scores"]["geographic_extent"]
    for part in path:
        entry = entry[part]
    primary = data["primary"]
    assert (primary["metric"], primary["score"], primary["pre_specified"]) == (metric, "geographic_extent", True)
    assert primary["value"] == entry[value_key] and primary["ci95"] == entry["ci95"]
    assert primary["ci95"][0] < primary["value"] < primary["ci95"][1]
    assert primary["n_cases"] == 15


def test_the_page_shows_it_before_every_other_statistic(study, client_for):
    _plan(study, "lin_ccc", "opacity")
    data, page = _report(study, client_for)
    assert page.index("Primary analysis (pre-specified)") < page.index("<h2>Summary</h2>")
    assert "Lin&#x27;s CCC (the overall CCC for three or more raters)</strong> of Opacity" in page
    assert f"{data['primary']['value']:.3f}" in page[: page.index("<h2>Summary</h2>")]


def test_without_a_pre_specified_metric_the_report_says_so(study, client_for):
    data, page = _report(study, client_for)
    assert data["primary"]["pre_specified"] is False and data["primary"]["metric"] is None
    assert "no primary metric was pre-specified" in data["primary"]["reason"]
    assert "No primary metric was pre-specified for this study" in page
