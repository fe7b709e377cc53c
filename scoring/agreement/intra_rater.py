"""Intra-rater reliability from repeat reads: pure NumPy, no ORM.

A rater's repeat read of a case (annotation.Assignment.repeat, read again unannounced after a
washout) is paired with their first read of it. Per rater, and pooled over raters:

- ICC(A,1): two-way, absolute agreement, one read (McGraw & Wong 1996), with the two sessions as
  the columns; numerically Shrout & Fleiss's ICC(2,1). Absolute agreement, not consistency
  (ICC(3,1)/ICC(C,1)), because a rater who drifts between sessions is less reliable: the drift
  must count. Koo & Li (2016) recommend this form for test-retest and intra-rater studies.
- Krippendorff's alpha, interval metric, on the same pairs.

95% CIs are percentile bootstrap intervals (scoring.agreement.bootstrap): per rater, their pairs
(cases) are resampled; pooled, the pairs of all raters are stacked and resampled by rater (each
rater with all their pairs, a clustered bootstrap), since one rater's pairs are not independent of
each other. The pooled ICC treats each (rater, case) as a unit read twice.
"""

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from scoring.agreement.base import Undefined, _as_matrix, _complete_rows, _finite, _plain
from scoring.agreement.bootstrap import bootstrap_ci
from scoring.agreement.coefficients import _icc_values, _mean_squares, krippendorff_alpha

ICC_FORM = "ICC(A,1)"
ICC_FORM_NOTE = (
    "two-way, absolute agreement, single read (McGraw & Wong 1996), first and repeat read as the two "
    "columns; numerically Shrout & Fleiss ICC(2,1)"
)
FEWER_THAN_TWO_PAIRS = "fewer than two repeated cases with both reads scored"
BOOTSTRAP_NOTE = "percentile bootstrap: per rater, their repeated cases; pooled, raters with all their pairs"


def icc_a1(pairs: npt.ArrayLike) -> float | Undefined:
    """ICC(A,1) of a cases x 2 (first read, repeat read) matrix; rows with a missing read are left out."""
    m = _complete_rows(_as_matrix(pairs))
    if m.shape[0] < 2:
        return Undefined(FEWER_THAN_TWO_PAIRS)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = _icc_values(_mean_squares(m))["ICC2_1"]
    return _finite(value, "no variance between the cases")


def alpha_interval(pairs: npt.ArrayLike) -> float | Undefined:
    """Krippendorff's alpha (interval) of a cases x 2 (first read, repeat read) matrix."""
    m = _complete_rows(_as_matrix(pairs))
    if m.shape[0] < 2:
        return Undefined(FEWER_THAN_TWO_PAIRS)
    return krippendorff_alpha(m, level="interval", domain=None)


def _with_ci(value: float | Undefined, ci: list[float] | None) -> dict:
    if isinstance(value, Undefined):
        return {"value": None, "ci95": None, "reason": value.reason}
    return {"value": _plain(value), "ci95": ci}


def _reliability(m: np.ndarray, *, n_boot: int, seed: int, clusters: list[str] | None = None) -> dict:
    n = int(m.shape[0])
    entry: dict = {"n_pairs": n}
    if n < 2:
        undefined = _with_ci(Undefined(FEWER_THAN_TWO_PAIRS), None)
        return entry | {"icc": undefined, "alpha": undefined, "mean_difference": None, "reason": FEWER_THAN_TWO_PAIRS}
    for key, statistic in (("icc", icc_a1), ("alpha", alpha_interval)):
        value = statistic(m)
        ci = (
            None
            if isinstance(value, Undefined)
            else bootstrap_ci(m, statistic, n_boot=n_boot, seed=seed, clusters=clusters)
        )
        entry[key] = _with_ci(value, ci)
    entry["mean_difference"] = float((m[:, 1] - m[:, 0]).mean())  # repeat minus first: drift
    return entry


def intra_rater_reliability(pairs_by_rater: Mapping[str, npt.ArrayLike], *, n_boot: int = 1000, seed: int = 0) -> dict:
    """Per rater and pooled: n pairs, ICC(A,1) and alpha (interval) with 95% CIs, and the mean
    repeat-minus-first difference. Each rater's pairs are a cases x 2 matrix (first read, repeat
    read); a pair with a missing read is left out. Fewer than two pairs: null values with a reason."""
    if n_boot < 0:
        raise ValueError("n_boot must be >= 0")
    matrices = {name: _complete_rows(_as_matrix(pairs).reshape(-1, 2)) for name, pairs in pairs_by_rater.items()}
    raters = {name: _reliability(m, n_boot=n_boot, seed=seed) for name, m in sorted(matrices.items())}
    with_pairs = [name for name, m in sorted(matrices.items()) if len(m)]
    stacked = np.vstack([matrices[name] for name in with_pairs]) if with_pairs else np.empty((0, 2))
    # One rater: resampling raters would repeat the same pairs every time; their cases are resampled.
    clusters = [name for name in with_pairs for _ in range(len(matrices[name]))] if len(with_pairs) > 1 else None
    pooled = _reliability(stacked, n_boot=n_boot, seed=seed, clusters=clusters) | {"n_raters": len(with_pairs)}
    return {
        "icc_form": ICC_FORM,
        "icc_form_note": ICC_FORM_NOTE,
        "alpha_level": "interval",
        "ci_method": BOOTSTRAP_NOTE,
        "raters": raters,
        "pooled": pooled,
    }
