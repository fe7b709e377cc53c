"""Inter-rater agreement over a cases x raters matrix. Pure NumPy/SciPy: no database, no Django.

The input is a float array with one row per case, one column per rater and NaN for a missing rating.
Statistics come from well-kept libraries where one exists (krippendorff, scikit-learn, statsmodels,
SciPy); this module chooses the cases each statistic may use and turns "cannot be computed" into
`Undefined(reason)`, so a report shows null with a reason instead of NaN or a crash.

Conventions a methods reviewer will ask about:
- Krippendorff's alpha uses every pairable value (cases with at least two ratings).
- ICC and Fleiss' kappa need the same raters on every case, so they use only the cases rated by
  all raters; `agreement_summary` reports that count as "icc_n_cases" (Fleiss uses the same cases).
- Weighted kappa is quadratic-weighted Cohen's kappa per rater pair, on the cases both rated; as in
  scikit-learn, the weights are the squared distances between the positions of the labels in the
  value domain (the rubric's values, or the values observed anywhere in the matrix).
- Consensus for rater bias and Bland-Altman is leave-one-out: the mean of the OTHER raters on that
  case, so a rater is never compared with a consensus that contains their own rating.
- 95% CIs for alpha and the mean kappa come from a case bootstrap (rows resampled with replacement,
  seeded, percentile 2.5/97.5, undefined replicates left out). For speed the summary computes the
  replicates from per-case coincidence and confusion counts; tests check that this equals calling
  the libraries on every resample.
"""

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations, permutations

import krippendorff
import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.stats import f as f_dist
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as _statsmodels_fleiss_kappa

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


def _icc_table(complete: np.ndarray, *, alpha: float = 0.05) -> dict[str, dict]:
    problem = _too_small(*complete.shape)
    if problem is None and np.ptp(complete) == 0:
        problem = Undefined("no variance: every rating is the same")
    if problem:
        return {key: {"value": None, "ci95": None, "reason": problem.reason} for key in ICC_KEYS}
    s = _mean_squares(complete)
    with np.errstate(all="ignore"):
        values = _icc_values(s)
        bounds = _icc_intervals(s, values["ICC2_1"], alpha)
    return {key: _icc_entry(values[key], bounds[key]) for key in ICC_KEYS}


def icc_all(matrix: npt.ArrayLike) -> dict[str, dict]:
    """The six Shrout & Fleiss ICCs with F-based 95% CIs, on the cases rated by every rater."""
    return _icc_table(_complete_rows(_as_matrix(matrix)))


# --- kappas ----------------------------------------------------------------------------------


def fleiss_kappa(matrix: npt.ArrayLike, *, domain: Sequence[float] | None) -> float | Undefined:
    """Fleiss' kappa (statsmodels) on the cases rated by every rater: Fleiss needs equal raters per case."""
    complete = _complete_rows(_as_matrix(matrix))
    if complete.shape[1] < 2:
        return Undefined("fewer than two raters")
    if complete.shape[0] < 2:
        return Undefined("fewer than two cases rated by every rater (Fleiss' kappa needs the same raters per case)")
    labels = _value_domain(complete, domain)
    if isinstance(labels, Undefined):
        return labels
    table, _ = aggregate_raters(_codes(complete, labels), n_cat=len(labels))
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
        pairs.append({"raters": [rater_names[a], rater_names[b]], **_entry(value)})
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


def _limits_of_agreement(diff: np.ndarray, a: str, b: str) -> dict:
    diff = diff[~np.isnan(diff)]
    entry = {"a": a, "b": b, "n": int(diff.size)}
    if diff.size == 0:
        return entry | {"mean_diff": None, "loa": None, "reason": "no case rated by both"}
    mean = float(diff.mean())
    if diff.size < 2:
        return entry | {"mean_diff": mean, "loa": None, "reason": "fewer than two cases: no spread"}
    half_width = 1.96 * float(diff.std(ddof=1))
    return entry | {"mean_diff": mean, "loa": [mean - half_width, mean + half_width]}


def bland_altman(matrix: npt.ArrayLike, rater_names: Sequence[str]) -> list[dict]:
    """Mean difference (a - b) and 95% limits for every rater pair and each rater vs the others' mean."""
    m = _as_matrix(matrix)
    _check_names(m, rater_names)
    names = list(rater_names)
    rows = [_limits_of_agreement(m[:, a] - m[:, b], names[a], names[b]) for a, b in combinations(range(len(names)), 2)]
    if len(names) >= 2:
        consensus = _leave_one_out(m)
        rows += [_limits_of_agreement(m[:, r] - consensus[:, r], name, "consensus") for r, name in enumerate(names)]
    return rows


# --- bootstrap -------------------------------------------------------------------------------


def _resamples(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Case indices of each resample. One draw per resample, so the numbers do not depend on how the
    fast path groups resamples into blocks: both paths see the same resamples for a seed."""
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield rng.integers(0, n, size=n)


def _percentile_ci(replicates: np.ndarray) -> list[float] | None:
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return None
    low, high = np.percentile(finite, [2.5, 97.5])
    return [float(low), float(high)]


def bootstrap_ci(
    matrix: npt.ArrayLike, statistic: Statistic, *, n_boot: int = 1000, seed: int = 0
) -> list[float] | None:
    """Percentile 95% CI of `statistic` over resampled cases; undefined replicates are left out."""
    m = _as_matrix(matrix)
    if m.shape[0] < 2 or n_boot < 1:
        return None
    replicates = np.array([_number(statistic(m[idx])) for idx in _resamples(m.shape[0], n_boot, seed)])
    return _percentile_ci(replicates)


# The summary's fast path. A resample is a vector of counts over the distinct rating patterns (rows);
# the coincidence matrix of alpha and each pair's confusion matrix are sums of per-pattern
# contributions, so a block of resamples is one (sparse) matrix product.


def _pattern_counts(inverse: np.ndarray, n_patterns: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    draws = _resamples(inverse.size, n_boot, seed)
    for start in range(0, n_boot, _BLOCK):
        counts = np.empty((min(_BLOCK, n_boot - start), n_patterns))
        for row in range(counts.shape[0]):
            counts[row] = np.bincount(inverse[next(draws)], minlength=n_patterns)
        yield counts


def _coincidence_contributions(patterns: np.ndarray, n_values: int) -> sparse.csr_array:
    """Each pattern's contribution to Krippendorff's coincidence matrix (flattened V x V)."""
    m_u = (patterns >= 0).sum(axis=1)
    rows, cols, weights = [], [], []
    for a, b in permutations(range(patterns.shape[1]), 2):
        both = np.flatnonzero((patterns[:, a] >= 0) & (patterns[:, b] >= 0))
        rows.append(both)
        cols.append(patterns[both, a] * n_values + patterns[both, b])
        weights.append(1.0 / (m_u[both] - 1))
    return _sparse(rows, cols, weights, (patterns.shape[0], n_values * n_values))


def _confusion_contributions(patterns: np.ndarray, a: int, b: int, n_values: int) -> sparse.csr_array:
    both = np.flatnonzero((patterns[:, a] >= 0) & (patterns[:, b] >= 0))
    cols = patterns[both, a] * n_values + patterns[both, b]
    return _sparse([both], [cols], [np.ones(both.size)], (patterns.shape[0], n_values * n_values))


def _sparse(rows: list, cols: list, weights: list, shape: tuple[int, int]) -> sparse.csr_array:
    if not rows:
        return sparse.csr_array(shape)
    return sparse.csr_array((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=shape)


def _distances(values: np.ndarray, level: str, n_v: np.ndarray) -> np.ndarray:
    """Krippendorff's squared differences between values; ordinal ones depend on the value counts."""
    a, b = values[:, None], values[None, :]
    if level == "nominal":
        return (a != b).astype(float)
    if level == "interval":
        return (a - b) ** 2
    if level == "ratio":
        total = a + b
        return np.divide(a - b, total, out=np.zeros(total.shape), where=total != 0) ** 2
    cumulative = np.cumsum(n_v, axis=-1)
    return (cumulative[:, None, :] - cumulative[:, :, None] + (n_v[:, :, None] - n_v[:, None, :]) / 2) ** 2


def _alpha_from_coincidences(o: np.ndarray, values: np.ndarray, level: str) -> np.ndarray:
    n_v = o.sum(axis=2)
    d = np.broadcast_to(_distances(values, level, n_v), o.shape)
    # Expected disagreement: the diagonal term of Krippendorff's e drops out because d_cc = 0.
    expected = np.einsum("bi,bij,bj->b", n_v, d, n_v) / (n_v.sum(axis=1) - 1)
    with np.errstate(all="ignore"):
        return 1 - (o * d).sum(axis=(1, 2)) / expected


def _kappa_from_confusion(c: np.ndarray) -> np.ndarray:
    positions = np.arange(c.shape[1])
    w = (positions[:, None] - positions[None, :]) ** 2.0
    total = c.sum(axis=(1, 2))
    with np.errstate(all="ignore"):
        expected = np.einsum("bi,ij,bj->b", c.sum(axis=2), w, c.sum(axis=1)) / total
        kappa = 1 - (c * w).sum(axis=(1, 2)) / expected
    kappa[total < 2] = np.nan  # the same rule as weighted_kappa_pairs
    return kappa


def _fast_replicates(
    m: np.ndarray, values: np.ndarray, levels: Sequence[str], kappa: bool, n_boot: int, seed: int
) -> dict[str, np.ndarray]:
    """Bootstrap replicates of alpha (each level) and of the mean pairwise kappa, in one pass."""
    n_values = len(values)
    patterns, inverse = np.unique(_codes(m, values), axis=0, return_inverse=True)
    coincidence = _coincidence_contributions(patterns, n_values)
    pairs = (
        [_confusion_contributions(patterns, a, b, n_values) for a, b in combinations(range(m.shape[1]), 2)]
        if kappa
        else []
    )
    out: dict[str, list[np.ndarray]] = {key: [] for key in [*levels, *(["kappa"] if kappa else [])]}
    for counts in _pattern_counts(inverse.ravel(), len(patterns), n_boot, seed):
        o = (counts @ coincidence).reshape(-1, n_values, n_values)
        for level in levels:
            out[level].append(_alpha_from_coincidences(o, values, level))
        if pairs:
            per_pair = np.stack([_kappa_from_confusion((counts @ c).reshape(-1, n_values, n_values)) for c in pairs])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all pairs undefined: NaN, left out
                out["kappa"].append(np.nanmean(per_pair, axis=0))
    return {key: np.concatenate(parts) if parts else np.empty(0) for key, parts in out.items()}


# --- summary ---------------------------------------------------------------------------------


def _with_ci(entry: dict, ci: list[float] | None, n_boot: int, key: str = "value") -> dict:
    if entry[key] is None:
        return entry | {"ci95": None}
    if ci is None:
        reason = "bootstrap disabled" if n_boot < 1 else "no bootstrap resample gave a defined value"
        return entry | {"ci95": None, "reason": reason}
    return entry | {"ci95": ci}


def _replicates(
    m: np.ndarray, domain: Sequence[float] | None, levels: list[str], kappa: bool, n_boot: int, seed: int
) -> dict[str, np.ndarray]:
    if n_boot < 1 or m.shape[0] < 2 or not (levels or kappa):
        return {}
    # Observed values joined with the domain: equal to the sorted domain whenever kappa and nominal/
    # ordinal alpha are defined, and still covering every value for interval/ratio when they are not.
    values = np.union1d(np.unique(m[~np.isnan(m)]), [] if domain is None else np.asarray(domain, dtype=float))
    if len(values) <= _FAST_MAX_VALUES:
        return _fast_replicates(m, values, levels, kappa, n_boot, seed)
    return _slow_replicates(m, domain, levels, kappa, n_boot, seed)


def _slow_replicates(
    m: np.ndarray, domain: Sequence[float] | None, levels: list[str], kappa: bool, n_boot: int, seed: int
) -> dict[str, np.ndarray]:
    names = [str(r) for r in range(m.shape[1])]
    statistics: dict[str, Statistic] = {
        level: lambda x, level=level: krippendorff_alpha(x, level=level, domain=domain) for level in levels
    }
    if kappa:
        statistics["kappa"] = lambda x: weighted_kappa_pairs(x, names, domain=domain)["mean"]
    return {
        key: np.array([_number(stat(m[idx])) for idx in _resamples(m.shape[0], n_boot, seed)])
        for key, stat in statistics.items()
    }


def agreement_summary(
    matrix: npt.ArrayLike,
    rater_names: Sequence[str],
    *,
    domain: Sequence[float] | None,
    categorical: bool,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Every agreement statistic for one score, JSON-ready: plain floats, None (with a reason) for undefined.

    Cases nobody rated are dropped first: they carry no information and would only add noise to the
    bootstrap. Scalar statistics that are undefined are explained in the top-level "undefined" map.
    """
    if n_boot < 0:
        raise ValueError("n_boot must be >= 0")
    m = _as_matrix(matrix)
    if m.size == 0:
        m = m.reshape(0, len(rater_names))
    _check_names(m, rater_names)
    m = m[(~np.isnan(m)).any(axis=1)]
    alphas = {level: _entry(krippendorff_alpha(m, level=level, domain=domain)) for level in LEVELS}
    kappa = weighted_kappa_pairs(m, rater_names, domain=domain)
    defined_levels = [level for level in LEVELS if alphas[level]["value"] is not None]
    replicates = _replicates(m, domain, defined_levels, kappa["mean"] is not None, n_boot, seed)

    def ci(key: str) -> list[float] | None:
        return _percentile_ci(replicates[key]) if key in replicates else None

    scalars = {
        "fleiss_kappa": fleiss_kappa(m, domain=domain) if categorical else Undefined("continuous total"),
        "exact_agreement": exact_agreement(m),
        "within_one": within_one(m),
    }
    return {
        "n_cases": int(m.shape[0]),
        "krippendorff_alpha": {level: _with_ci(alphas[level], ci(level), n_boot) for level in LEVELS},
        "icc": icc_all(m),
        "icc_n_cases": int(_complete_rows(m).shape[0]),
        "fleiss_kappa": _plain(scalars["fleiss_kappa"]),
        "weighted_kappa": _with_ci(kappa, ci("kappa"), n_boot, key="mean"),
        "exact_agreement": _plain(scalars["exact_agreement"]),
        "within_one": _plain(scalars["within_one"]),
        "raters": rater_stats(m, rater_names),
        "bland_altman": bland_altman(m, rater_names),
        "undefined": {key: value.reason for key, value in scalars.items() if isinstance(value, Undefined)},
    }
