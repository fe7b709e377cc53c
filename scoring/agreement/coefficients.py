"""The coefficients: Krippendorff's alpha, ICCs, Fleiss' and weighted kappa, simple agreement,
per-rater bias and Bland-Altman. Pure NumPy/SciPy and the libraries that define them."""

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import krippendorff
import numpy as np
import numpy.typing as npt
from scipy.stats import f as f_dist
from scipy.stats import t as t_dist
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as _statsmodels_fleiss_kappa

from scoring.agreement.base import (
    _EXACT,
    ICC_KEYS,
    LEVELS,
    Undefined,
    _as_matrix,
    _check_names,
    _codes,
    _entry,
    _finite,
    _pairable_values,
    _too_small,
    _value_domain,
)
from scoring.agreement.variance import Ratings, one_way, one_way_iccs, reml_components

# --- Krippendorff's alpha --------------------------------------------------------------------


def _alpha_problem(m: np.ndarray, level: str, domain: Sequence[float] | None) -> Undefined | None:
    too_small = _too_small(*m.shape)
    if too_small:
        return too_small
    pairable = _pairable_values(m)
    if pairable.size == 0:
        return Undefined("no case was rated by two or more raters")
    if level in ("nominal", "ordinal"):
        labels = _value_domain(m, domain)
        if isinstance(labels, Undefined):
            return labels
    if level == "ratio" and (pairable.min() < 0 or (domain is not None and min(domain) < 0)):
        return Undefined("ratio level needs non-negative values")
    if np.ptp(pairable) == 0:
        return Undefined("no variance: every pairable rating has the same value")
    return None


def krippendorff_alpha(matrix: npt.ArrayLike, *, level: str, domain: Sequence[float] | None) -> float | Undefined:
    """Krippendorff's alpha at `level` over every pairable value (krippendorff package)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}")
    m = _as_matrix(matrix)
    problem = _alpha_problem(m, level, domain)
    if problem:
        return problem
    # The value domain matters only for nominal/ordinal: interval and ratio distances use the values.
    # np.unique: a repeated domain value would otherwise be counted twice by the package.
    nominal_or_ordinal = domain is not None and level in ("nominal", "ordinal")
    value_domain = np.unique(np.asarray(domain, dtype=float)) if nominal_or_ordinal else None
    with np.errstate(all="ignore"):
        value = krippendorff.alpha(m.T, value_domain=value_domain, level_of_measurement=level)
    return _finite(value, "no variance: expected disagreement is zero")


# --- ICC (Shrout & Fleiss 1979; CIs as McGraw & Wong 1996, psych, pingouin) ---------------------


@dataclass(frozen=True)
class _MeanSquares:
    n: int
    k: int
    rows: float  # between cases (MSR, Shrout & Fleiss's BMS)
    cols: float  # between raters (MSC, JMS)
    error: float  # residual (MSE, EMS)
    within: float  # within cases (MSW, WMS)


def _mean_squares(x: np.ndarray) -> _MeanSquares:
    n, k = x.shape
    grand, row_means, col_means = x.mean(), x.mean(axis=1), x.mean(axis=0)
    # Sums of squares of residuals directly, not by subtraction, so they cannot come out negative.
    ss_error = ((x - row_means[:, None] - col_means[None, :] + grand) ** 2).sum()
    ss_within = ((x - row_means[:, None]) ** 2).sum()
    return _MeanSquares(
        n=n,
        k=k,
        rows=k * ((row_means - grand) ** 2).sum() / (n - 1),
        cols=n * ((col_means - grand) ** 2).sum() / (k - 1),
        error=ss_error / ((n - 1) * (k - 1)),
        within=ss_within / (n * (k - 1)),
    )


def _icc_values(s: _MeanSquares) -> dict[str, float]:
    n, k = s.n, s.k
    return {
        "ICC1_1": (s.rows - s.within) / (s.rows + (k - 1) * s.within),
        "ICC2_1": (s.rows - s.error) / (s.rows + (k - 1) * s.error + k * (s.cols - s.error) / n),
        "ICC3_1": (s.rows - s.error) / (s.rows + (k - 1) * s.error),
        "ICC1_k": (s.rows - s.within) / s.rows,
        "ICC2_k": (s.rows - s.error) / (s.rows + (s.cols - s.error) / n),
        "ICC3_k": (s.rows - s.error) / s.rows,
    }


def _f_bounds(ratio: float, df_num: float, df_den: float, alpha: float) -> tuple[float, float]:
    q = 1 - alpha / 2
    return ratio / f_dist.ppf(q, df_num, df_den), ratio * f_dist.ppf(q, df_den, df_num)


def _icc2_bounds(s: _MeanSquares, icc2: float, alpha: float) -> tuple[float, float]:
    """ICC(2,1) interval with Satterthwaite's degrees of freedom (McGraw & Wong 1996, case 2A)."""
    n, k = s.n, s.k
    fj = s.cols / s.error
    spread = n * (1 + (k - 1) * icc2) - k * icc2
    v = (n - 1) * (k - 1) * (k * icc2 * fj + spread) ** 2 / ((n - 1) * k**2 * icc2**2 * fj**2 + spread**2)
    f_up, f_low = f_dist.ppf(1 - alpha / 2, n - 1, v), f_dist.ppf(1 - alpha / 2, v, n - 1)
    core = k * s.cols + (k * n - k - n) * s.error
    return n * (s.rows - f_up * s.error) / (f_up * core + n * s.rows), n * (f_low * s.rows - s.error) / (
        core + n * f_low * s.rows
    )


def _icc_intervals(s: _MeanSquares, icc2: float, alpha: float = 0.05) -> dict[str, tuple[float, float]]:
    n, k = s.n, s.k
    f1 = _f_bounds(s.rows / s.within, n - 1, n * (k - 1), alpha)
    f3 = _f_bounds(s.rows / s.error, n - 1, (n - 1) * (k - 1), alpha)
    l2, u2 = _icc2_bounds(s, icc2, alpha)

    def single(f: float) -> float:
        return (f - 1) / (f + k - 1)

    def spearman_brown(r: float) -> float:
        return r * k / (1 + r * (k - 1))

    return {
        "ICC1_1": (single(f1[0]), single(f1[1])),
        "ICC2_1": (l2, u2),
        "ICC3_1": (single(f3[0]), single(f3[1])),
        "ICC1_k": (1 - 1 / f1[0], 1 - 1 / f1[1]),
        "ICC2_k": (spearman_brown(l2), spearman_brown(u2)),
        "ICC3_k": (1 - 1 / f3[0], 1 - 1 / f3[1]),
    }


def _icc_entry(value: float, bounds: tuple[float, float]) -> dict:
    if not np.isfinite(value):
        return {"value": None, "ci95": None, "reason": "no between-case variance"}
    if not np.all(np.isfinite(bounds)):
        return {
            "value": float(value),
            "ci95": None,
            "reason": "F-based interval undefined: a variance component is zero",
        }
    return {"value": float(value), "ci95": [float(bounds[0]), float(bounds[1])]}


def _icc_problem(m: np.ndarray) -> Undefined | None:
    problem = _too_small(*m.shape)
    if problem is None and np.ptp(m[~np.isnan(m)]) == 0:
        problem = Undefined("no variance: every rating is the same")
    return problem


def _icc_table(complete: np.ndarray, *, alpha: float = 0.05) -> dict[str, dict]:
    problem = _icc_problem(complete)
    if problem:
        return {key: {"value": None, "ci95": None, "reason": problem.reason} for key in ICC_KEYS}
    s = _mean_squares(complete)
    with np.errstate(all="ignore"):
        values = _icc_values(s)
        bounds = _icc_intervals(s, values["ICC2_1"], alpha)
    return {key: _icc_entry(values[key], bounds[key]) for key in ICC_KEYS}


def _icc_incomplete(m: np.ndarray, *, alpha: float = 0.05) -> dict[str, dict]:
    """Raters vary per case or ratings are missing: ICC(1,.) from the unbalanced one-way ANOVA, the
    two-way ICCs from REML variance components; the "k" forms for k0 ratings per case."""
    problem = _icc_problem(m)
    if problem:
        return {key: {"value": None, "ci95": None, "reason": problem.reason} for key in ICC_KEYS}
    ratings = Ratings.from_matrix(m)
    s = one_way(ratings)
    with np.errstate(all="ignore"):
        one = {key: _icc_entry(value, bounds) for key, (value, bounds) in one_way_iccs(s, alpha).items()}
    var_c, var_r, var_e = reml_components(ratings)
    values = {
        "ICC2_1": var_c / (var_c + var_r + var_e),
        "ICC3_1": var_c / (var_c + var_e),
        "ICC2_k": var_c / (var_c + (var_r + var_e) / s.k0),
        "ICC3_k": var_c / (var_c + var_e / s.k0),
    }
    reason = "no closed-form interval for an ICC from REML variance components"
    two = {key: {"value": float(value), "ci95": None, "reason": reason} for key, value in values.items()}
    return {key: (one | two)[key] for key in ICC_KEYS}


def _with_design(table: dict[str, dict], n_cases: int, estimators: dict[str, str], k: float) -> dict[str, dict]:
    out = {}
    for key, entry in table.items():
        extra = {"n_cases": n_cases, "estimator": estimators[key]}
        out[key] = entry | extra | ({"k": k} if key.endswith("_k") else {})
    return out


def icc_all(matrix: npt.ArrayLike) -> dict[str, dict]:
    """The six Shrout & Fleiss ICCs on every case with two or more ratings.

    Every rater on every such case: the two-way ANOVA with F-based 95% CIs (Shrout & Fleiss 1979;
    McGraw & Wong 1996). Otherwise (a pool of raters larger than the raters per case, or missing
    ratings): ICC(1,1) and ICC(1,k) from the unbalanced one-way ANOVA with F-based intervals, and the
    two-way ICCs from REML variance components (case, reader, residual), without an interval. Each
    entry names its estimator and the cases it used; "k" is the (effective) ratings per case."""
    m = _as_matrix(matrix)
    m = m[(~np.isnan(m)).sum(axis=1) >= 2]
    if m.shape[0]:  # a rater with no rating on these cases does not make the design incomplete
        m = m[:, (~np.isnan(m)).any(axis=0)]
    if not np.isnan(m).any():
        table = _icc_table(m)
        return _with_design(table, m.shape[0], dict.fromkeys(ICC_KEYS, "two_way_anova"), float(m.shape[1]))
    table = _icc_incomplete(m)
    n_i = (~np.isnan(m)).sum(axis=1)
    k0 = float((n_i.sum() - (n_i**2).sum() / n_i.sum()) / (m.shape[0] - 1)) if m.shape[0] > 1 else float("nan")
    estimators = {
        key: "one_way_anova_unbalanced" if key.startswith("ICC1") else "reml_two_way_random" for key in ICC_KEYS
    }
    return _with_design(table, m.shape[0], estimators, k0 if np.isfinite(k0) else None)


# --- kappas ----------------------------------------------------------------------------------


def fleiss_cases(matrix: npt.ArrayLike) -> np.ndarray:
    """The cases Fleiss' kappa uses: those rated by two or more raters (a single rating shows no
    agreement or disagreement)."""
    m = _as_matrix(matrix)
    return (~np.isnan(m)).sum(axis=1) >= 2 if m.ndim == 2 and m.size else np.zeros(0, dtype=bool)


def fleiss_kappa(matrix: npt.ArrayLike, *, domain: Sequence[float] | None) -> float | Undefined:
    """Fleiss' kappa (statsmodels) on the cases with two or more ratings, whichever raters gave them:
    Fleiss (1971) needs the same NUMBER of ratings per case, not the same raters."""
    m = _as_matrix(matrix)
    if m.ndim != 2 or m.shape[1] < 2:
        return Undefined("fewer than two raters")
    m = m[fleiss_cases(m)]
    if m.shape[0] < 2:
        return Undefined("fewer than two cases rated by two or more raters")
    per_case = np.unique((~np.isnan(m)).sum(axis=1))
    if per_case.size > 1:
        return Undefined(
            f"the number of ratings per case varies ({per_case.min()}-{per_case.max()}); "
            "Fleiss' kappa needs the same number on every case (Gwet's AC1 and alpha allow it)"
        )
    labels = _value_domain(m, domain)
    if isinstance(labels, Undefined):
        return labels
    codes = _codes(m, labels)
    table = np.zeros((m.shape[0], len(labels)))
    rows, cols = np.nonzero(codes >= 0)
    np.add.at(table, (rows, codes[rows, cols]), 1)
    with np.errstate(all="ignore"):
        value = _statsmodels_fleiss_kappa(table, method="fleiss")
    return _finite(value, "no variance: every rating is in the same category")


def _kappa_pair(codes_a: np.ndarray, codes_b: np.ndarray, n_labels: int) -> float | Undefined:
    both = (codes_a >= 0) & (codes_b >= 0)
    if both.sum() < 2:
        return Undefined("fewer than two cases rated by both")
    # Codes (label positions) rather than values: the same quadratic weights, and scikit-learn
    # accepts them even when a total is not a whole number.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = cohen_kappa_score(codes_a[both], codes_b[both], labels=np.arange(n_labels), weights="quadratic")
    return _finite(value, "no variance: both raters used one and the same value throughout")


def weighted_kappa_pairs(matrix: npt.ArrayLike, rater_names: Sequence[str], *, domain: Sequence[float] | None) -> dict:
    """Quadratic-weighted Cohen's kappa for every rater pair on the cases both rated, and their mean."""
    m = _as_matrix(matrix)
    _check_names(m, rater_names)
    labels = _value_domain(m, domain)
    pairs = []
    for a, b in combinations(range(m.shape[1]), 2):
        if isinstance(labels, Undefined):
            value: float | Undefined = labels
        else:
            value = _kappa_pair(*_codes(m[:, [a, b]], labels).T, len(labels))
        both = int((~np.isnan(m[:, a]) & ~np.isnan(m[:, b])).sum())  # the cases the pair both read
        pairs.append({"raters": [rater_names[a], rater_names[b]], **_entry(value), "n": both})
    defined = [p["value"] for p in pairs if p["value"] is not None]
    if defined:
        return {"mean": float(np.mean(defined)), "pairs": pairs}
    reason = "fewer than two raters" if m.shape[1] < 2 else "no rater pair has a defined kappa"
    return {"mean": None, "reason": reason, "pairs": pairs}


# --- simple agreement ------------------------------------------------------------------------


def _pair_agreement(matrix: npt.ArrayLike, tolerance: float) -> float | Undefined:
    m = _as_matrix(matrix)
    if m.shape[1] < 2:
        return Undefined("fewer than two raters")
    agree = total = 0
    for a, b in combinations(range(m.shape[1]), 2):
        diff = np.abs(m[:, a] - m[:, b])
        diff = diff[~np.isnan(diff)]
        agree += int((diff <= tolerance + _EXACT).sum())
        total += diff.size
    return agree / total if total else Undefined("no case was rated by two or more raters")


def exact_agreement(matrix: npt.ArrayLike) -> float | Undefined:
    """Share of rater pairs, pooled over cases, that gave exactly the same rating."""
    return _pair_agreement(matrix, 0.0)


def within_one(matrix: npt.ArrayLike) -> float | Undefined:
    """Share of rater pairs, pooled over cases, whose ratings differ by at most one point."""
    return _pair_agreement(matrix, 1.0)


# --- per rater and Bland-Altman --------------------------------------------------------------


def _leave_one_out(m: np.ndarray) -> np.ndarray:
    """For each case and rater: the mean of the OTHER raters' ratings (NaN where nobody else rated)."""
    present = ~np.isnan(m)
    filled = np.where(present, m, 0.0)
    others_n = present.sum(axis=1, keepdims=True) - present
    others_sum = filled.sum(axis=1, keepdims=True) - filled
    with np.errstate(all="ignore"):
        return np.where(others_n > 0, others_sum / np.maximum(others_n, 1), np.nan)


def _rater_entry(ratings: np.ndarray, consensus: np.ndarray) -> dict:
    rated = ratings[~np.isnan(ratings)]
    diff = ratings - consensus
    diff = diff[~np.isnan(diff)]
    entry = {"n": int(rated.size), "mean": float(rated.mean()) if rated.size else None}
    if not diff.size:
        return entry | {
            "bias_vs_consensus": None,
            "mae_vs_consensus": None,
            "reason": "no case shared with another rater",
        }
    return entry | {"bias_vs_consensus": float(diff.mean()), "mae_vs_consensus": float(np.abs(diff).mean())}


def rater_stats(matrix: npt.ArrayLike, rater_names: Sequence[str]) -> dict[str, dict]:
    """Per rater: cases rated, mean rating, bias and MAE against the leave-one-out consensus."""
    m = _as_matrix(matrix)
    _check_names(m, rater_names)
    consensus = _leave_one_out(m)
    return {name: _rater_entry(m[:, r], consensus[:, r]) for r, name in enumerate(rater_names)}


LOA_CI_METHOD = "Bland & Altman 1999: SE of a limit sqrt(3 s^2 / n), t with n - 1 df"


def loa_confidence_intervals(*, mean: float, sd: float, n: int, k: float = 1.96) -> tuple[list, list]:
    """Approximate 95% CIs of the limits mean -/+ k sd (Bland & Altman 1986 Lancet; 1999 SMMR 8:135-160).

    The variance of a limit is s^2/n + k^2 s^2 / (2(n-1)), about 3 s^2 / n for k near 2; the authors'
    approximation is kept because readers can recompute it from the table. Carkeet 2015 gives exact
    (non-central t) intervals, slightly wider for small n.
    """
    half = float(t_dist.ppf(0.975, n - 1)) * sd * np.sqrt(3.0 / n)
    lower, upper = mean - k * sd, mean + k * sd
    return [lower - half, lower + half], [upper - half, upper + half]


def _limits_of_agreement(diff: np.ndarray, a: str, b: str) -> dict:
    diff = diff[~np.isnan(diff)]
    entry = {"a": a, "b": b, "n": int(diff.size)}
    no_ci = {"loa_lower_ci95": None, "loa_upper_ci95": None}
    if diff.size == 0:
        return entry | {"mean_diff": None, "loa": None} | no_ci | {"reason": "no case rated by both"}
    mean = float(diff.mean())
    if diff.size < 2:
        return entry | {"mean_diff": mean, "loa": None} | no_ci | {"reason": "fewer than two cases: no spread"}
    sd = float(diff.std(ddof=1))
    lower_ci, upper_ci = loa_confidence_intervals(mean=mean, sd=sd, n=int(diff.size))
    return entry | {
        "mean_diff": mean,
        "loa": [mean - 1.96 * sd, mean + 1.96 * sd],
        "loa_lower_ci95": lower_ci,
        "loa_upper_ci95": upper_ci,
        "loa_ci_method": LOA_CI_METHOD,
    }


def bland_altman(matrix: npt.ArrayLike, rater_names: Sequence[str]) -> list[dict]:
    """Mean difference (a - b) and 95% limits, each with a 95% CI, for every rater pair and each rater
    vs the others' mean."""
    m = _as_matrix(matrix)
    _check_names(m, rater_names)
    names = list(rater_names)
    rows = [_limits_of_agreement(m[:, a] - m[:, b], names[a], names[b]) for a, b in combinations(range(len(names)), 2)]
    if len(names) >= 2:
        consensus = _leave_one_out(m)
        rows += [_limits_of_agreement(m[:, r] - consensus[:, r], name, "consensus") for r, name in enumerate(names)]
    return rows
