"""Agreement on a clinical decision: each score dichotomised at an owner's cut-off, from the pure
function and from `agreement_report --cutoff SCORE=VALUE`."""

import csv
import io
import json
from itertools import combinations

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss_kappa

from annotation.csv_io import ratings_csv_import
from scoring.agreement.cutoffs import kappa_at_cutoffs
from scoring.agreement.gwet import gwet_ac
from tests.test_agreement_report_pages_cache_and_cli import PAST_STUDY

NAMES = ["alice", "bob", "charlie"]


def severities(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.integers(0, 9, (120, 1)) + rng.integers(-2, 3, (120, 3)), 0, 8).astype(float)


def test_each_cutoff_gives_cohen_fleiss_and_gwet_on_the_dichotomised_scores():
    ratings = severities(0)
    result = kappa_at_cutoffs(ratings, NAMES, cutoffs=[6, 3])
    assert [entry["cutoff"] for entry in result] == [3.0, 6.0]
    for entry in result:
        positive = (ratings >= entry["cutoff"]).astype(int)
        pairs = [cohen_kappa_score(positive[:, a], positive[:, b]) for a, b in combinations(range(3), 2)]
        counts = np.column_stack([(positive == 0).sum(axis=1), positive.sum(axis=1)])
        assert entry["cohen_kappa_mean"] == pytest.approx(np.mean(pairs), abs=1e-12)
        assert entry["fleiss_kappa"]["value"] == pytest.approx(statsmodels_fleiss_kappa(counts), abs=1e-12)
        assert entry["gwet_ac1"]["value"] == pytest.approx(gwet_ac(positive, domain=[0, 1])["value"], abs=1e-12)
        assert entry["positive_share"] == pytest.approx(positive.mean()) and entry["n_cases"] == 120


def test_missing_ratings_stay_missing_after_dichotomising():
    ratings = severities(1)
    ratings[::4, 0] = np.nan
    entry = kappa_at_cutoffs(ratings, NAMES, cutoffs=[4])[0]
    assert entry["positive_share"] == pytest.approx((ratings[~np.isnan(ratings)] >= 4).mean())
    assert entry["fleiss_kappa"]["value"] is None and "varies" in entry["fleiss_kappa"]["reason"]
    assert entry["gwet_ac1"]["value"] is not None


@pytest.fixture
def past_study(make_study):
    study = make_study(n_cases=0, open_it=False)
    ratings_csv_import(study=study, data=PAST_STUDY.encode(), allow_missing_images=True)
    return study


def test_the_command_reports_agreement_at_the_cutoffs_asked_for(past_study, capsys):
    call_command("agreement_report", past_study.slug, "--bootstrap", "0", "--cutoff", "geographic_extent=4")
    data = json.loads(capsys.readouterr().out)
    assert [c["cutoff"] for c in data["scores"]["geographic_extent"]["kappa_at_cutoffs"]] == [4.0]
    assert "kappa_at_cutoffs" not in data["scores"]["opacity"]
    call_command("agreement_report", past_study.slug, "--bootstrap", "0", "--format", "csv", "--cutoff", "opacity=3")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["statistic"] for r in rows if r["score"] == "opacity" and r["variant"] == ">= 3"} == {
        "cutoff_cohen_kappa_mean",
        "cutoff_fleiss_kappa",
        "cutoff_gwet_ac1",
    }
    call_command("agreement_report", past_study.slug, "--bootstrap", "0", "--format", "html", "--cutoff", "opacity=3")
    assert "At ≥ 3.0: Gwet's AC1" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["nonsense=4", "geographic_extent=four"])
def test_the_command_refuses_an_unknown_score_or_a_cutoff_that_is_not_a_number(past_study, value):
    with pytest.raises(CommandError):
        call_command("agreement_report", past_study.slug, "--bootstrap", "0", "--cutoff", value)
