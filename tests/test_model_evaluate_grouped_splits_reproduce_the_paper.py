import numpy as np
import pytest

import scoring.model.evaluate as evaluation
from scoring.model.evaluate import evaluate, group_codes, group_splits
from scoring.model.heads import PAPER_CLAMP

# (patientid, geographic_mean, opacity_mean) of the 94 published images, in file order.
# Cohen et al. 2020, annotations/covid-severity-scores.csv of the COVID-19 image data
# collection (CC BY-SA), joined with its metadata.csv for the patient ids.
PUBLISHED = [
    (46, 6.0, 4.0),
    (77, 2.7, 2.0),
    (11, 2.0, 2.0),
    (59, 3.7, 3.0),
    (59, 1.7, 1.7),
    (67, 0.0, 0.0),
    (67, 0.3, 0.3),
    (68, 1.3, 1.3),
    (68, 2.0, 2.0),
    (112, 1.0, 1.0),
    (112, 1.0, 1.0),
    (113, 0.3, 0.3),
    (113, 1.0, 1.0),
    (114, 1.0, 1.0),
    (114, 4.7, 2.7),
    (115, 4.0, 3.3),
    (115, 4.7, 4.0),
    (39, 4.0, 3.0),
    (42, 2.0, 2.3),
    (40, 2.0, 2.0),
    (85, 6.7, 4.0),
    (48, 2.3, 2.0),
    (37, 7.7, 6.0),
    (78, 4.7, 4.0),
    (73, 2.3, 2.7),
    (73, 2.3, 3.0),
    (118, 5.0, 3.3),
    (95, 1.0, 1.0),
    (94, 0.0, 0.0),
    (86, 8.0, 5.0),
    (45, 6.3, 3.3),
    (41, 2.0, 2.7),
    (33, 0.0, 0.0),
    (54, 3.7, 2.0),
    (44, 4.7, 4.0),
    (36, 0.3, 0.3),
    (49, 3.3, 3.7),
    (36, 1.7, 1.7),
    (95, 1.0, 1.0),
    (57, 6.0, 4.0),
    (57, 6.0, 4.0),
    (2, 2.3, 1.3),
    (2, 4.0, 3.0),
    (2, 4.7, 3.0),
    (2, 5.7, 3.7),
    (86, 6.7, 3.3),
    (43, 3.0, 2.7),
    (60, 0.0, 0.0),
    (61, 0.0, 0.0),
    (62, 0.0, 0.0),
    (98, 2.3, 2.0),
    (24, 8.0, 4.0),
    (23, 3.3, 2.0),
    (20, 4.7, 4.0),
    (75, 5.0, 2.0),
    (21, 1.3, 2.0),
    (99, 5.7, 4.0),
    (93, 3.0, 2.0),
    (22, 2.3, 2.3),
    (117, 0.7, 0.7),
    (96, 7.3, 3.0),
    (96, 8.0, 3.0),
    (96, 4.3, 3.0),
    (97, 6.3, 5.0),
    (97, 7.0, 4.0),
    (97, 8.0, 6.0),
    (51, 3.3, 2.0),
    (37, 7.0, 5.0),
    (51, 4.0, 2.0),
    (47, 5.7, 4.0),
    (70, 3.3, 2.0),
    (81, 7.3, 6.0),
    (80, 0.0, 0.0),
    (69, 4.3, 3.7),
    (69, 2.0, 1.3),
    (63, 4.0, 3.3),
    (64, 3.0, 2.3),
    (65, 1.0, 1.0),
    (76, 0.7, 0.7),
    (6, 6.0, 4.3),
    (6, 7.3, 5.0),
    (12, 0.7, 1.0),
    (4, 2.0, 2.0),
    (4, 2.7, 2.0),
    (13, 0.0, 0.0),
    (13, 0.7, 0.7),
    (13, 1.3, 1.0),
    (13, 2.0, 2.3),
    (18, 4.3, 3.3),
    (16, 2.0, 1.7),
    (14, 1.3, 1.3),
    (15, 3.7, 3.3),
    (15, 5.7, 4.0),
    (15, 4.3, 4.0),
]


def grouped_data(seed: int = 0):
    """40 patients with 1-3 cases each; the feature predicts the target with some noise."""
    rng = np.random.default_rng(seed)
    groups = [str(p) for p in range(40) for _ in range(rng.integers(1, 4))]
    x = rng.normal(size=len(groups))
    y = np.clip(2.0 * x + 4 + rng.normal(scale=0.5, size=len(groups)), 0, 8)
    return x[:, None], {"geographic_extent": y}, groups


def test_none_baseline_reproduces_the_papers_row():
    groups = [str(p) for p, _, _ in PUBLISHED]
    Y = {"geographic_extent": np.array([g for _, g, _ in PUBLISHED]), "opacity": np.array([o for _, _, o in PUBLISHED])}
    result = evaluate(np.zeros((94, 0)), Y, groups, feature_set="none", clamp=PAPER_CLAMP)
    # Paper: geographic extent MAE 2.07 +- 0.17, opacity MAE 1.29 +- 0.10.
    assert round(result["geographic_extent"]["mae"]["mean"], 2) == 2.07
    assert round(result["geographic_extent"]["mae"]["sd"], 2) == 0.17
    assert round(result["opacity"]["mae"]["mean"], 2) == 1.29
    assert round(result["opacity"]["mae"]["sd"], 2) == 0.10
    assert result["opacity"]["pearson_r"] == {"mean": None, "sd": None}  # constant predictions


def test_numeric_patient_ids_sort_as_numbers_and_missing_ids_are_their_own_group():
    codes = group_codes(["11", "2", None, "a", "", 2, "11"])
    assert codes.tolist() == [1, 0, 3, 2, 4, 0, 1]


def test_evaluate_uses_fifty_splits_that_never_split_a_patient(monkeypatch):
    X, Y, groups = grouped_data()
    seen = []

    def spy(groups, *, n_splits):
        splits = group_splits(groups, n_splits=n_splits)
        seen.extend(splits)
        return splits

    monkeypatch.setattr(evaluation, "group_splits", spy)
    evaluate(X, Y, groups, feature_set="lung_opacity", clamp=PAPER_CLAMP)
    assert len(seen) == 50
    labels = np.array(groups)
    for train, test in seen:
        assert not set(labels[train]) & set(labels[test])
        assert len(train) + len(test) == len(groups)
    assert len({tuple(test) for _, test in seen}) > 40  # the seeds give different splits


def test_evaluate_is_deterministic_and_reports_mean_and_sd_per_metric():
    X, Y, groups = grouped_data()
    first = evaluate(X, Y, groups, feature_set="lung_opacity", clamp=PAPER_CLAMP)
    assert first == evaluate(X, Y, groups, feature_set="lung_opacity", clamp=PAPER_CLAMP)
    metrics = first["geographic_extent"]
    assert set(metrics) == {"pearson_r", "r2", "mae", "mse"}
    assert metrics["pearson_r"]["mean"] > 0.9 and metrics["mae"]["sd"] > 0


def test_a_feature_beats_the_none_baseline():
    X, Y, groups = grouped_data()
    feature = evaluate(X, Y, groups, feature_set="lung_opacity", clamp=PAPER_CLAMP)
    baseline = evaluate(np.zeros((len(groups), 0)), Y, groups, feature_set="none", clamp=PAPER_CLAMP)
    assert feature["geographic_extent"]["mae"]["mean"] < baseline["geographic_extent"]["mae"]["mean"]


def test_evaluate_needs_at_least_two_splits():
    X, Y, groups = grouped_data()
    with pytest.raises(ValueError, match="at least 2"):
        evaluate(X, Y, groups, feature_set="lung_opacity", n_splits=1, clamp=PAPER_CLAMP)
