"""The active version is compared with a candidate on the same held-out splits, refitted per split as
the candidate is: never scored on the cases it was fitted on (issue 16)."""

import math

import numpy as np
import pytest
from django.core.management import call_command

from annotation.models import Study
from scoring.model.compare import PROMOTION_MARGIN, compare_paired
from scoring.models import ModelVersion
from scoring.services import model_version_activate
from tests.conftest import rated_chest_study

RANGES = {"geographic_extent": 8.0, "opacity": 6.0}


@pytest.fixture
def study(personas, fake_backbone):
    return rated_chest_study(personas, slug="cxr", n=8, title="CXR")


def test_an_active_rich_head_reports_its_cross_validated_error_not_its_training_error(study, client_for):
    call_command("retrain", study.slug, "--features", "features_1024", "--sync")
    v2 = ModelVersion.objects.get(study=study, number=2)
    model_version_activate(version=v2)
    call_command("retrain", study.slug, "--features", "lung_opacity", "--sync")
    v3 = ModelVersion.objects.get(study=study, number=3)
    # The active version's recipe refitted per split: exactly its own cross-validated error.
    assert v3.metrics["active"] == v2.metrics["candidate"]
    for target in RANGES:
        assert v3.metrics["active"][target]["mae"]["mean"] > 0
    assert v3.promotion["active_version"] == 2 and set(v3.promotion["targets"]) == set(RANGES)
    page = client_for("alice").get(f"/studies/{study.slug}/model/").content.decode()
    assert "Promotion decision" in page
    verdict = v3.promotion["targets"]["opacity"]["verdict"]
    assert f"opacity</td><td>{verdict}" in page.replace("\n", "")


def test_auto_promote_says_why_it_did_not_promote(study, client_for):
    Study.objects.filter(pk=study.pk).update(auto_promote=True)
    call_command("retrain", study.slug, "--features", "features_1024", "--sync")
    v2 = ModelVersion.objects.get(study=study, number=2)
    if v2.is_active:  # promoted over the published head: then the same recipe again cannot be better
        call_command("retrain", study.slug, "--features", "features_1024", "--sync")
        v2 = ModelVersion.objects.get(study=study, number=3)
    assert not v2.is_active and not v2.promotion["promoted"]
    page = client_for("alice").get(f"/studies/{study.slug}/model/").content.decode()
    assert "not promoted" in page and "not shown better than the active version" in page


def test_the_same_recipe_against_itself_is_never_promoted():
    rng = np.random.default_rng(0)
    mae = {t: list(rng.uniform(1, 2, 50)) for t in RANGES}
    decision = compare_paired(mae, mae, ranges=RANGES, test_train_ratio=1.0)
    assert not decision["promote"]
    assert all(entry["ci"] == [0.0, 0.0] for entry in decision["targets"].values())


def test_a_clear_improvement_on_every_target_is_promoted():
    rng = np.random.default_rng(1)
    active = {t: rng.uniform(1.5, 2.0, 50) for t in RANGES}
    candidate = {t: list(v - 0.5 + rng.normal(0, 0.05, 50)) for t, v in active.items()}
    decision = compare_paired(candidate, {t: list(v) for t, v in active.items()}, ranges=RANGES, test_train_ratio=1.0)
    assert decision["promote"] and {e["verdict"] for e in decision["targets"].values()} == {"better"}


def test_better_on_one_target_but_worse_beyond_the_margin_on_the_other_is_not_promoted():
    rng = np.random.default_rng(2)
    active = {t: rng.uniform(1.5, 2.0, 50) for t in RANGES}
    candidate = {
        "geographic_extent": list(active["geographic_extent"] - 0.5),
        "opacity": list(active["opacity"] + 3 * PROMOTION_MARGIN * RANGES["opacity"] + rng.normal(0, 0.01, 50)),
    }
    decision = compare_paired(candidate, {t: list(v) for t, v in active.items()}, ranges=RANGES, test_train_ratio=1.0)
    assert not decision["promote"] and decision["targets"]["opacity"]["verdict"] == "worse"


def test_the_interval_uses_the_corrected_variance_of_overlapping_splits():
    diffs = np.linspace(-1, 0.5, 50)
    decision = compare_paired(
        {"opacity": list(diffs)}, {"opacity": [0.0] * 50}, ranges={"opacity": 6.0}, test_train_ratio=1.0
    )
    from scipy.stats import t

    half = t.ppf(0.975, 49) * math.sqrt((1 / 50 + 1.0) * np.var(diffs, ddof=1))
    low, high = decision["targets"]["opacity"]["ci"]
    assert high - low == pytest.approx(2 * half)
    naive = t.ppf(0.975, 49) * np.std(diffs, ddof=1) / math.sqrt(50)
    assert half > 5 * naive  # far wider than a t-interval that pretends the splits are independent
