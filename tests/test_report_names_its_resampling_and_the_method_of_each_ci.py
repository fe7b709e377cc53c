"""The report says how it resampled (cases, patients, or cases and raters: the two-way option of the
agreement_report command) and which method gave each statistic's 95% CI (issue 15, Intervals)."""

import json

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import imported_ratings_study


@pytest.fixture
def study(make_study):
    return imported_ratings_study(make_study, n_images=20)


def _report(capsys, study, *args) -> dict:
    call_command("agreement_report", study.slug, "--bootstrap", "300", "--seed", "2", *args)
    return json.loads(capsys.readouterr().out)


def test_the_default_resamples_cases_with_the_raters_fixed(study, capsys):
    data = _report(capsys, study)
    assert data["bootstrap"]["resampling"] == "cases" and data["bootstrap"]["raters"] == "fixed"
    assert data["ci_methods"]["krippendorff_alpha"].startswith("bootstrap over cases:")
    assert "raters" not in data["ci_methods"]["krippendorff_alpha"]


def test_the_two_way_option_resamples_raters_too_and_widens_the_intervals(study, capsys):
    fixed, random = _report(capsys, study), _report(capsys, study, "--raters", "random")
    assert random["bootstrap"]["resampling"] == "cases_and_raters" and random["bootstrap"]["raters"] == "random"
    assert "and raters (two-way: readers random)" in random["ci_methods"]["weighted_kappa"]
    for key in ("geographic_extent", "opacity"):
        for ci in ("ci95", "ci95_bca"):
            wide = random["scores"][key]["krippendorff_alpha"]["interval"][ci]
            narrow = fixed["scores"][key]["krippendorff_alpha"]["interval"][ci]
            assert wide[1] - wide[0] > narrow[1] - narrow[0]
        # The point estimates do not depend on the resampling.
        for level, entry in random["scores"][key]["krippendorff_alpha"].items():
            assert entry["value"] == fixed["scores"][key]["krippendorff_alpha"][level]["value"]
        assert random["scores"][key]["weighted_kappa"]["mean"] == fixed["scores"][key]["weighted_kappa"]["mean"]


def test_the_html_report_says_the_raters_were_resampled(study, capsys):
    call_command("agreement_report", study.slug, "--format", "html", "--bootstrap", "50", "--raters", "random")
    assert "and raters (two-way bootstrap, readers random" in capsys.readouterr().out


def test_every_interval_method_is_named_and_only_the_bootstrapped_ones_follow_the_option(study, capsys):
    methods = _report(capsys, study, "--raters", "random")["ci_methods"]
    assert set(methods) >= {"krippendorff_alpha", "weighted_kappa", "icc", "gwet_ac1_ac2", "lin_ccc", "bland_altman"}
    assert methods["icc"].startswith("F distribution") and "ICC(2,.) treats raters as random" in methods["icc"]
    assert "raters fixed" in methods["gwet_ac1_ac2"] and "jackknife" in methods["lin_ccc"]


def test_an_unknown_rater_model_is_refused(study):
    with pytest.raises(CommandError, match="invalid choice: 'sometimes'"):
        call_command("agreement_report", study.slug, "--raters", "sometimes")
