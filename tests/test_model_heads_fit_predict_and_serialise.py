import json

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from scoring.model.heads import FOUR_OUTPUTS, PAPER_CLAMP, LinearHead, fit_head, paper_head, select_features

# torchxrayvision's output order for densenet121-res224-all.
PATHOLOGIES = [
    "Atelectasis",
    "Consolidation",
    "Infiltration",
    "Pneumothorax",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Effusion",
    "Pneumonia",
    "Pleural_Thickening",
    "Cardiomegaly",
    "Nodule",
    "Mass",
    "Hernia",
    "Lung Lesion",
    "Fracture",
    "Lung Opacity",
    "Enlarged Cardiomediastinum",
]


def synthetic(n: int = 200, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, {"geographic_extent": X @ [1.0, -2.0, 0.5] + 3.0, "opacity": X @ [0.2, 0.0, -0.7] + 1.5}


def test_paper_head_is_the_published_version_one():
    predicted = paper_head().predict(np.array([[0.0], [1.0]]))
    np.testing.assert_allclose(predicted["geographic_extent"], [3.4137437, 0.8705248236656189 + 3.4137437])
    np.testing.assert_allclose(predicted["opacity"], [2.5535977, 0.5484423041343689 + 2.5535977])


def test_predictions_are_clamped_to_the_rubric_ranges():
    predicted = paper_head().predict(np.array([[-100.0], [100.0]]))
    np.testing.assert_array_equal(predicted["geographic_extent"], [0.0, 8.0])
    np.testing.assert_array_equal(predicted["opacity"], [0.0, 6.0])
    assert paper_head().predict_unclamped(np.array([[100.0]]))["opacity"][0] > 6


def test_fit_head_recovers_known_coefficients():
    X, Y = synthetic()
    head = fit_head(X, Y, feature_set="four_outputs", ridge_alpha=None, clamp={})
    np.testing.assert_allclose(head.coefficients["geographic_extent"], [1.0, -2.0, 0.5], atol=1e-9)
    np.testing.assert_allclose(head.intercept["opacity"], 1.5, atol=1e-9)
    assert head.clamp == {"geographic_extent": None, "opacity": None}


def test_fit_head_ridge_option_shrinks_like_sklearn_ridge():
    X, Y = synthetic(n=30)
    ols = fit_head(X, Y, feature_set="four_outputs", ridge_alpha=None, clamp=PAPER_CLAMP)
    ridge = fit_head(X, Y, feature_set="four_outputs", ridge_alpha=10.0, clamp=PAPER_CLAMP)
    expected = Ridge(alpha=10.0).fit(X, Y["geographic_extent"]).coef_
    np.testing.assert_allclose(ridge.coefficients["geographic_extent"], expected)
    assert np.linalg.norm(ridge.coefficients["geographic_extent"]) < np.linalg.norm(
        ols.coefficients["geographic_extent"]
    )


def test_none_feature_set_predicts_the_training_mean():
    _, Y = synthetic(n=20)
    head = fit_head(np.zeros((20, 0)), Y, feature_set="none", ridge_alpha=None, clamp=PAPER_CLAMP)
    predicted = head.predict(np.zeros((3, 0)))
    np.testing.assert_allclose(predicted["opacity"], [Y["opacity"].mean()] * 3)


def test_head_round_trips_through_json():
    X, Y = synthetic()
    head = fit_head(X, Y, feature_set="four_outputs", ridge_alpha=None, clamp=PAPER_CLAMP)
    restored = LinearHead.from_dict(json.loads(json.dumps(head.to_dict())))
    assert restored == head
    np.testing.assert_array_equal(restored.predict(X)["opacity"], head.predict(X)["opacity"])
    assert LinearHead.from_dict(paper_head().to_dict()) == paper_head()


def test_head_refuses_features_of_the_wrong_width():
    with pytest.raises(ValueError, match="expected N x 1 features"):
        paper_head().predict(np.zeros((2, 4)))


def test_select_features_picks_the_papers_columns():
    logits = np.arange(2 * 18, dtype=float).reshape(2, 18)
    pooled = np.ones((2, 1024))
    np.testing.assert_array_equal(select_features("lung_opacity", logits, pooled, PATHOLOGIES), logits[:, [16]])
    four = select_features("four_outputs", logits, pooled, PATHOLOGIES)
    np.testing.assert_array_equal(four, logits[:, [PATHOLOGIES.index(n) for n in FOUR_OUTPUTS]])
    assert four[0].tolist() == [16, 8, 2, 1]
    assert select_features("all_outputs", logits, pooled, PATHOLOGIES).shape == (2, 18)
    assert select_features("features_1024", logits, pooled, PATHOLOGIES).shape == (2, 1024)
    assert select_features("none", logits, pooled, PATHOLOGIES).shape == (2, 0)
    with pytest.raises(ValueError, match="unknown feature set"):
        select_features("everything", logits, pooled, PATHOLOGIES)
