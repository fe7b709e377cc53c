"""Shared by the agreement statistics: the input matrix, `Undefined`, the JSON entries."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

LEVELS = ("nominal", "ordinal", "interval", "ratio")
ICC_KEYS = ("ICC1_1", "ICC2_1", "ICC3_1", "ICC1_k", "ICC2_k", "ICC3_k")
# Above this many distinct values the per-case count matrices stop being small; the bootstrap then
# calls the libraries on each resample instead (slow, but the same numbers).
_FAST_MAX_VALUES = 100
_BLOCK = 128  # resamples handled together by the vectorised bootstrap
_EXACT = 1e-9  # tolerance for "the same rating" between floats


@dataclass(frozen=True)
class Undefined:
    """A statistic that cannot be computed on these data; JSON shows null with this reason."""

    reason: str


Statistic = Callable[[np.ndarray], float | Undefined | None]


# --- input handling --------------------------------------------------------------------------


def _as_matrix(matrix: npt.ArrayLike) -> np.ndarray:
    m = np.asarray(matrix, dtype=float)
    if m.size == 0 and m.ndim < 2:
        return m.reshape(0, 0)
    if m.ndim != 2:
        raise ValueError("expected a cases x raters matrix")
    if np.isinf(m).any():
        raise ValueError("ratings must be finite numbers, or NaN for a missing rating")
    return m


def _check_names(m: np.ndarray, rater_names: Sequence[str]) -> None:
    if m.shape[1] != len(rater_names):
        raise ValueError(f"{m.shape[1]} rater columns but {len(rater_names)} rater names")


def _too_small(n_cases: int, n_raters: int) -> Undefined | None:
    if n_raters < 2:
        return Undefined("fewer than two raters")
    if n_cases < 2:
        return Undefined("fewer than two cases")
    return None


def _complete_rows(m: np.ndarray) -> np.ndarray:
    return m[~np.isnan(m).any(axis=1)]


def _pairable_values(m: np.ndarray) -> np.ndarray:
    rows = m[(~np.isnan(m)).sum(axis=1) >= 2]
    return rows[~np.isnan(rows)]


def _value_domain(m: np.ndarray, domain: Sequence[float] | None) -> np.ndarray | Undefined:
    """The sorted label set: the rubric's domain, or the values observed when there is none."""
    observed = np.unique(m[~np.isnan(m)])
    if domain is None:
        return observed
    labels = np.unique(np.asarray(domain, dtype=float))
    outside = np.setdiff1d(observed, labels)
    if outside.size:
        return Undefined(f"ratings outside the value domain: {outside.tolist()}")
    return labels


def _codes(m: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Position of each rating in `labels`, -1 where missing."""
    codes = np.full(m.shape, -1, dtype=np.int64)
    present = ~np.isnan(m)
    codes[present] = np.searchsorted(labels, m[present])
    return codes


def _finite(value: float, reason: str) -> float | Undefined:
    return float(value) if np.isfinite(value) else Undefined(reason)


def _number(value: object) -> float:
    """A statistic's result as a float, NaN when undefined (for bootstrap replicates)."""
    if value is None or isinstance(value, Undefined):
        return float("nan")
    return float(value)


def _plain(value: float | Undefined) -> float | None:
    return None if isinstance(value, Undefined) else float(value)


def _entry(value: float | Undefined, key: str = "value") -> dict:
    if isinstance(value, Undefined):
        return {key: None, "reason": value.reason}
    return {key: value}
