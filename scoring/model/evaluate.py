"""The paper's evaluation: repeated 50/50 splits grouped by patient, mean +- SD of the metrics."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scoring.model.heads import Clamp, fit_head

METRICS = ("pearson_r", "r2", "mae", "mse")
# Sample SD (ddof=1, pandas' default): it reproduces the paper's baseline row
# (geographic extent MAE 2.07 +- 0.17); np.std's ddof=0 gives +- 0.16.
SD_DDOF = 1


def group_codes(groups: Sequence[str | int | None]) -> np.ndarray:
    """Integer group labels whose order reproduces the paper's splits.

    GroupShuffleSplit shuffles the *sorted* unique labels, so their order decides the
    split. The paper's patient ids were integers read by pandas, sorted numerically
    ("2" < "11"); string ids would sort "11" < "2" and give other splits. Numeric ids
    come first in numeric order, then other ids as text; a case without an id (None or
    blank) is a group of its own.
    """

    def key(label: str) -> tuple:
        return (0, int(label), "") if label.lstrip("-").isdigit() else (1, 0, label)

    labels = [None if g is None or str(g).strip() == "" else str(g).strip() for g in groups]
    order = {label: code for code, label in enumerate(sorted({x for x in labels if x is not None}, key=key))}
    next_code = len(order)
    codes = []
    for label in labels:
        if label is None:
            codes.append(next_code)
            next_code += 1
        else:
            codes.append(order[label])
    return np.asarray(codes, dtype=np.int64)


def group_splits(groups: Sequence[str | int | None], *, n_splits: int = 50) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) indices for seeds 0..n_splits-1, one GroupShuffleSplit each, as the paper."""
    from sklearn.model_selection import GroupShuffleSplit

    codes = group_codes(groups)
    placeholder = np.zeros((len(codes), 1))
    splits = []
    for seed in range(n_splits):
        splitter = GroupShuffleSplit(n_splits=1, train_size=0.5, test_size=0.5, random_state=seed)
        splits.append(next(splitter.split(placeholder, groups=codes)))
    return splits


def evaluate(
    X: np.ndarray,
    Y: Mapping[str, np.ndarray],
    groups: Sequence[str | int | None],
    *,
    feature_set: str,
    n_splits: int = 50,
    ridge_alpha: float | None = None,
    clamp: Clamp,
) -> dict[str, dict[str, dict[str, float | None]]]:
    """Per target, per metric: {"mean", "sd"} over the splits (None where undefined)."""
    if n_splits < 2:
        raise ValueError("n_splits must be at least 2 to report an SD")
    splits = group_splits(groups, n_splits=n_splits)
    return summarise_splits(split_metrics(X, Y, splits, feature_set=feature_set, ridge_alpha=ridge_alpha, clamp=clamp))


Splits = Sequence[tuple[np.ndarray, np.ndarray]]
PerSplit = dict[str, dict[str, list[float | None]]]  # target -> metric -> one value per split


def split_metrics(
    X: np.ndarray,
    Y: Mapping[str, np.ndarray],
    splits: Splits,
    *,
    feature_set: str,
    ridge_alpha: float | None,
    clamp: Clamp,
) -> PerSplit:
    """A head of this recipe fitted on each split's training half and scored on its test half."""
    X = np.asarray(X, dtype=np.float64)
    Y = {target: np.asarray(y, dtype=np.float64) for target, y in Y.items()}
    per_split: PerSplit = {t: {m: [] for m in METRICS} for t in Y}
    for train, test in splits:
        head = fit_head(
            X[train], {t: y[train] for t, y in Y.items()}, feature_set=feature_set, ridge_alpha=ridge_alpha, clamp=clamp
        )
        _append(per_split, Y, head.predict(X[test]), test)
    return per_split


def fixed_split_metrics(predicted: Mapping[str, np.ndarray], Y: Mapping[str, np.ndarray], splits: Splits) -> PerSplit:
    """A head that was not fitted on these cases (the published one), scored on each test half."""
    per_split: PerSplit = {t: {m: [] for m in METRICS} for t in predicted}
    for _, test in splits:
        _append(per_split, Y, {t: np.asarray(p)[test] for t, p in predicted.items()}, test)
    return per_split


def _append(per_split: PerSplit, Y: Mapping[str, np.ndarray], predicted: Mapping[str, np.ndarray], test) -> None:
    for target in per_split:
        for metric, value in regression_metrics(np.asarray(Y[target])[test], predicted[target]).items():
            per_split[target][metric].append(value)


def summarise_splits(per_split: PerSplit) -> dict[str, dict[str, dict[str, float | None]]]:
    return {t: {m: summarise(values) for m, values in metrics.items()} for t, metrics in per_split.items()}


class UngroupedCases(ValueError):
    """Some cases have no patient id: splits grouped by patient cannot be claimed."""


def grouping_check(groups: Sequence[str | int | None], *, allow_case_grouping: bool) -> dict[str, Any]:
    """How the splits are grouped: by patient when every case has a patient id; otherwise only when
    the owner accepted grouping by case (each case without an id its own group), else UngroupedCases.
    Two images of one patient on both sides of a split would flatter the model."""
    missing = sum(g is None or str(g).strip() == "" for g in groups)
    summary = {
        "n_cases": len(groups),
        "n_patients": len({str(g).strip() for g in groups if g is not None and str(g).strip()}),
        "n_cases_without_patient_id": missing,
        "by": "patient" if missing == 0 else "case",
    }
    if missing and not allow_case_grouping:
        raise UngroupedCases(
            f"{missing} of {len(groups)} cases have no patient id, so the splits cannot be grouped by "
            f"patient ({summary['n_patients']} patients known): add the patient ids, or accept grouping by "
            "case (each case without an id is its own group)"
        )
    return summary


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float | None]:
    """Pearson r (None when either side is constant, e.g. the `none` baseline), R^2, MAE, MSE."""
    from scipy.stats import pearsonr
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    constant = np.ptp(y_true) == 0 or np.ptp(y_pred) == 0
    return {
        "pearson_r": None if constant else _finite(pearsonr(y_true, y_pred)[0]),
        "r2": _finite(r2_score(y_true, y_pred)),
        "mae": _finite(mean_absolute_error(y_true, y_pred)),
        "mse": _finite(mean_squared_error(y_true, y_pred)),
    }


def summarise(values: Sequence[float | None]) -> dict[str, Any]:
    """Mean and sample SD over the splits where the metric is defined; None if it never is."""
    defined = [v for v in values if v is not None]
    if not defined:
        return {"mean": None, "sd": None}
    sd = float(np.std(defined, ddof=SD_DDOF)) if len(defined) > SD_DDOF else None
    return {"mean": float(np.mean(defined)), "sd": sd}


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
