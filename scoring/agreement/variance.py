"""Variance components and ICCs for incomplete designs. Pure NumPy/SciPy.

- One-way random model, unbalanced (raters vary per case): ANOVA mean squares with the effective
  number of ratings per case k0 = (N - sum n_i^2 / N) / (n - 1) (Searle, Casella & McCulloch 1992,
  section 3.6; Donner 1986), for ICC(1,1) and ICC(1,k).
- Two-way random model (case, reader, residual) with missing ratings: REML with crossed random
  case and reader effects, computed here directly (the reader effects by Woodbury's identity, the
  case effects in closed form per case), so it scales with the number of ratings; the tests check it
  against statsmodels' MixedLM, and against the ANOVA estimates on a complete design.
- Readers' systematic differences: the F test for readers in the two-way fixed-effects model, readers
  adjusted for cases (least squares with the case effects absorbed); on a complete design it is the
  ANOVA F = MS_raters / MS_error of Shrout & Fleiss.
"""

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import minimize
from scipy.stats import f as f_dist
from scipy.stats import friedmanchisquare

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Ratings:
    """The ratings present, in long form: value, case index, rater index."""

    y: np.ndarray
    case: np.ndarray
    rater: np.ndarray
    n_cases: int
    n_raters: int

    @classmethod
    def from_matrix(cls, m: np.ndarray) -> "Ratings":
        case, rater = np.nonzero(~np.isnan(m))
        return cls(y=m[case, rater], case=case, rater=rater, n_cases=m.shape[0], n_raters=m.shape[1])

    @property
    def per_case(self) -> np.ndarray:
        return np.bincount(self.case, minlength=self.n_cases)

    def case_sums(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.case, weights=values, minlength=self.n_cases)


# --- one-way, unbalanced ---------------------------------------------------------------------


@dataclass(frozen=True)
class OneWay:
    between: float  # MSB
    within: float  # MSW
    k0: float
    df_between: int
    df_within: int


def one_way(r: Ratings) -> OneWay:
    n_i = r.per_case
    n, big_n = r.n_cases, r.y.size
    means = r.case_sums(r.y) / n_i
    grand = r.y.mean()
    ss_between = (n_i * (means - grand) ** 2).sum()
    ss_within = ((r.y - means[r.case]) ** 2).sum()
    return OneWay(
        between=ss_between / (n - 1),
        within=ss_within / (big_n - n),
        k0=(big_n - (n_i**2).sum() / big_n) / (n - 1),
        df_between=n - 1,
        df_within=big_n - n,
    )


def one_way_iccs(s: OneWay, alpha: float = 0.05) -> dict[str, tuple[float, tuple[float, float]]]:
    """ICC(1,1) and ICC(1,k) with k = k0, and their approximate F-based intervals (the balanced
    formulas with k0 for k: Searle 1971; Donner 1986)."""
    q = 1 - alpha / 2
    with np.errstate(all="ignore"):  # no variance within cases: the values are 1, the F bounds undefined
        f = s.between / s.within
        f_low, f_high = f / f_dist.ppf(q, s.df_between, s.df_within), f * f_dist.ppf(q, s.df_within, s.df_between)

        def single(x: float) -> float:
            return (x - 1) / (x + s.k0 - 1)

        return {
            "ICC1_1": (
                (s.between - s.within) / (s.between + (s.k0 - 1) * s.within),
                (single(f_low), single(f_high)),
            ),
            "ICC1_k": ((s.between - s.within) / s.between, (1 - 1 / f_low, 1 - 1 / f_high)),
        }


# --- two-way random, REML --------------------------------------------------------------------


def _reml_objective(sd: np.ndarray, r: Ratings, sums: np.ndarray, cross: np.ndarray, n_i: np.ndarray) -> float:
    """-2 x REML log-likelihood (without constants) of y = mu + case + reader + residual.

    V = A + s_r^2 Z Z', A block-diagonal by case with A_i = s_e^2 I + s_c^2 J. Columns of W = [1, y, Z];
    `cross` = W'W and `sums` = per-case sums of W, so W'A^-1 W = (W'W - S' diag(g) S) / s_e^2."""
    var_c, var_r, var_e = sd**2
    var_e = max(var_e, 1e-12)
    g = var_c / (var_e + n_i * var_c)
    inv_a = (cross - sums.T @ (g[:, None] * sums)) / var_e  # W' A^-1 W
    m = inv_a[2:, 2:]
    inner = np.eye(m.shape[0]) + var_r * m
    sign, logdet_inner = np.linalg.slogdet(inner)
    if sign <= 0:
        return np.inf
    h = inv_a[:2, :2] - var_r * inv_a[:2, 2:] @ np.linalg.solve(inner, inv_a[2:, :2])  # [1, y]' V^-1 [1, y]
    if h[0, 0] <= 0:
        return np.inf
    quad = h[1, 1] - h[0, 1] ** 2 / h[0, 0]
    logdet_v = (n_i * np.log(var_e)).sum() + np.log1p(n_i * var_c / var_e).sum() + logdet_inner
    return float(logdet_v + np.log(h[0, 0]) + quad)


def reml_components(r: Ratings) -> tuple[float, float, float]:
    """REML variance components (case, reader, residual) of the crossed two-way random model."""
    # The ICC table and the variance components of one score ask for the same fit: fit it once.
    return _reml_fit(r.y.tobytes(), r.case.tobytes(), r.rater.tobytes(), r.n_cases, r.n_raters)


@lru_cache(maxsize=16)
def _reml_fit(y: bytes, case: bytes, rater: bytes, n_cases: int, n_raters: int) -> tuple[float, float, float]:
    r = Ratings(
        y=np.frombuffer(y), case=np.frombuffer(case, dtype=np.intp), rater=np.frombuffer(rater, dtype=np.intp),
        n_cases=n_cases, n_raters=n_raters,
    )  # fmt: skip
    scale = r.y.std() or 1.0
    y = (r.y - r.y.mean()) / scale
    w = np.column_stack([np.ones_like(y), y, np.eye(r.n_raters)[r.rater]])
    sums = np.zeros((r.n_cases, w.shape[1]))
    np.add.at(sums, r.case, w)
    n_i = r.per_case.astype(float)
    s = one_way(Ratings(y=y, case=r.case, rater=r.rater, n_cases=r.n_cases, n_raters=r.n_raters))
    start = np.sqrt([max((s.between - s.within) / s.k0, 0.05), 0.05, max(s.within, 0.05)])
    best = None
    # Two starts (readers' variance small and large): the likelihood can have a flat ridge near 0.
    # A residual variance at its bound (ratings exactly case + reader) makes the finite-difference
    # gradient meet infinities: harmless, the bound is the estimate.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for reader_start in (start[1], np.sqrt(max(s.within, 0.05))):
            x0 = np.array([start[0], reader_start, start[2]])
            # SLSQP, Powell if it fails: both reach statsmodels' optimum; L-BFGS-B is 5-10x slower here.
            for method, options in (("SLSQP", {"ftol": 1e-12, "maxiter": 500}), ("Powell", {"xtol": 1e-8})):
                fit = minimize(
                    _reml_objective,
                    x0,
                    args=(r, sums, w.T @ w, n_i),
                    method=method,
                    bounds=[(0, None), (0, None), (1e-6, None)],
                    options=options,
                )
                if fit.success and np.isfinite(fit.fun):
                    break
            if best is None or fit.fun < best.fun:
                best = fit
    var_c, var_r, var_e = best.x**2 * scale**2
    return float(var_c), float(var_r), float(var_e)


def anova_components(x: np.ndarray) -> tuple[float, float, float]:
    """Case, reader and residual variance of a complete cases x raters design from the two-way ANOVA
    mean squares (Shrout & Fleiss 1979, Table 1), a negative estimate set to 0. On a complete
    design these are the REML estimates whenever none is negative."""
    n, k = x.shape
    grand, rows, cols = x.mean(), x.mean(axis=1), x.mean(axis=0)
    ms_rows = k * ((rows - grand) ** 2).sum() / (n - 1)
    ms_cols = n * ((cols - grand) ** 2).sum() / (k - 1)
    ms_error = ((x - rows[:, None] - cols[None, :] + grand) ** 2).sum() / ((n - 1) * (k - 1))
    return max((ms_rows - ms_error) / k, 0.0), max((ms_cols - ms_error) / n, 0.0), float(ms_error)


# --- readers' systematic differences ----------------------------------------------------------


def reader_f_test(r: Ratings) -> dict:
    """F test that the readers' means are equal, readers adjusted for cases (two-way fixed effects)."""
    n_i = r.per_case.astype(float)
    means = r.case_sums(r.y) / n_i
    rss_cases = float(((r.y - means[r.case]) ** 2).sum())
    incidence = np.zeros((r.n_cases, r.n_raters))
    incidence[r.case, r.rater] = 1
    # Reduced normal equations for the reader effects once the case effects are absorbed.
    c = np.diag(incidence.sum(axis=0)) - incidence.T @ (incidence / n_i[:, None])
    rhs = np.bincount(r.rater, weights=r.y, minlength=r.n_raters) - incidence.T @ means
    beta = np.linalg.lstsq(c, rhs, rcond=None)[0]
    df_readers = int(np.linalg.matrix_rank(c))
    df_error = r.y.size - r.n_cases - df_readers
    rss_full = rss_cases - float(beta @ rhs)
    out = {"test": "f_readers_adjusted_for_cases", "df": [df_readers, df_error], "n_cases": r.n_cases}
    if df_readers < 1 or df_error < 1 or rss_full <= 0:
        return out | {"statistic": None, "p_value": None, "reason": "too few ratings, or no residual variance"}
    statistic = ((rss_cases - rss_full) / df_readers) / (rss_full / df_error)
    return out | {"statistic": float(statistic), "p_value": float(f_dist.sf(statistic, df_readers, df_error))}


# --- the report's entry -----------------------------------------------------------------------


def _friedman(m: np.ndarray) -> dict:
    """Friedman's rank test across raters on the cases every rater scored (ordinal scores)."""
    complete = m[~np.isnan(m).any(axis=1)]
    out = {"test": "friedman_complete_cases", "n_cases": int(complete.shape[0])}
    if m.shape[1] < 3 or complete.shape[0] < 2 or np.ptp(complete) == 0:
        return out | {"statistic": None, "p_value": None, "reason": "needs three raters and two complete cases"}
    with np.errstate(all="ignore"):
        result = friedmanchisquare(*complete.T)
    if not np.isfinite(result.statistic):
        return out | {"statistic": None, "p_value": None, "reason": "no variance within cases"}
    return out | {"statistic": float(result.statistic), "p_value": float(result.pvalue), "df": m.shape[1] - 1}


def variance_components(matrix: np.ndarray, *, ordinal: bool = False) -> dict:
    """Case, reader and residual variance on the cases with two or more ratings: the two-way ANOVA
    when every rater scored all of them, else REML with crossed random effects. SEM =
    sqrt(reader + residual), the error of one rating by a random reader; MDC95 = 1.96 x sqrt(2) x
    SEM (Weir 2005). With them the F test for systematic reader differences, and Friedman's test on
    complete cases for an ordinal score."""
    m = matrix[(~np.isnan(matrix)).sum(axis=1) >= 2]
    if m.shape[0]:  # raters with no rating on these cases
        m = m[:, (~np.isnan(m)).any(axis=0)]
    out = {"estimator": "reml_two_way_random", "n_cases": int(m.shape[0]), "n_ratings": int((~np.isnan(m)).sum())}
    if m.shape[1] < 2 or m.shape[0] < 2:
        return out | {"value": None, "reason": "fewer than two raters or two cases with two ratings"}
    if np.ptp(m[~np.isnan(m)]) == 0:
        return out | {"value": None, "reason": "no variance: every rating is the same"}
    r = Ratings.from_matrix(m)
    if np.isnan(m).any():
        var_c, var_r, var_e = reml_components(r)
    else:
        var_c, var_r, var_e = anova_components(m)
        out["estimator"] = "two_way_anova"
    sem = float(np.sqrt(var_r + var_e))
    out |= {
        "case": {"value": var_c},
        "reader": {"value": var_r},
        "residual": {"value": var_e},
        "sem": {"value": sem},
        "mdc95": {"value": float(Z95 * np.sqrt(2) * sem)},
        "reader_test": reader_f_test(r),
    }
    return out | ({"reader_test_ordinal": _friedman(m)} if ordinal else {})
