"""Two reading conditions compared over readers and cases (multi-reader multi-case, MRMC): the
Obuchowski-Rockette model with Hillis' denominator degrees of freedom, readers and cases both
random, the error covariances estimated by jackknifing over cases. Pure NumPy/SciPy.

- Obuchowski NA, Rockette HE. Hypothesis testing of diagnostic accuracy for multiple readers and
  multiple tests: an ANOVA approach with dependent observations. Commun Stat Simul Comput 1995;
  24:285-308.
- Hillis SL. A comparison of denominator degrees of freedom methods for multiple observer ROC
  analysis. Stat Med 2007;26:596-619 (ddf_H, used here).
- Hillis SL, Berbaum KS, Metz CE. Recent developments in the Dorfman-Berbaum-Metz procedure for
  multireader ROC study analysis. Acad Radiol 2008;15:647-661.

The figure of merit (FOM) is any function of one reader's reads in one condition over a subset of
the cases: the Wilcoxon AUC in the published example (tests/test_mrmc_or_hillis_matches_van_dyke.py),
the mean absolute error against a reference or the mean reading time on this platform. For a FOM
that is a mean over cases, `mean_fom_jackknife` computes every leave-one-case-out value at once.

The crossover reference rule (`crossover_errors`): a read is scored against the adjudicated value
when one exists, else against the consensus of the OTHER readers' unaided reads of that case, never
one that contains the reader's own read (which made unaided reads look better than they were).
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05


@dataclass(frozen=True)
class ReaderComparison:
    """One reader's FOM in each condition and the difference (second minus first) with a z-based
    95% CI over random cases for this reader alone (OR-DBM MRMC's "single-reader" analysis)."""

    first: float
    second: float
    difference: float
    se: float
    ci95: tuple[float, float]
    p_value: float


@dataclass(frozen=True)
class ORHillis:
    """The OR analysis of the second condition against the first (difference = second - first)."""

    fom: np.ndarray  # conditions x readers
    means: tuple[float, float]
    difference: float
    se: float
    df: float  # Hillis' ddf_H
    ci95: tuple[float, float]
    f_statistic: float
    p_value: float
    ms_t: float
    ms_tr: float
    var_error: float
    cov1: float  # same reader, other condition
    cov2: float  # other reader, same condition
    cov3: float  # other reader, other condition
    n_cases: int
    readers: list[ReaderComparison]


Fom = Callable[[int, int, np.ndarray], float]


def fom_jackknife(*, fom: Fom, n_readers: int, n_cases: int, n_conditions: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The FOM on all cases (conditions x readers) and with each case left out in turn
    (conditions x readers x cases), from `fom(reader, condition, case_indices)`."""
    every = np.arange(n_cases)
    full = np.array([[fom(j, i, every) for j in range(n_readers)] for i in range(n_conditions)], dtype=float)
    jack = np.empty((n_conditions, n_readers, n_cases))
    for k in range(n_cases):
        rest = np.delete(every, k)
        for i in range(n_conditions):
            for j in range(n_readers):
                jack[i, j, k] = fom(j, i, rest)
    return full, jack


def mean_fom_jackknife(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a FOM that is the mean of per-read values (conditions x readers x cases, NaN where a
    reader has no read of a case): the FOM and every leave-one-case-out FOM, vectorised. Leaving
    out a case the reader did not read leaves their FOM as it is."""
    present = ~np.isnan(values)
    n = present.sum(axis=-1)
    total = np.where(present, values, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        full = total / n
        left_out = (total[..., None] - np.where(present, values, 0.0)) / (n[..., None] - 1)
    jack = np.where(present, left_out, full[..., None])
    return full, jack


def or_hillis(*, fom: np.ndarray, jack: np.ndarray, alpha: float = ALPHA) -> ORHillis:
    """OR analysis of two conditions from the FOM (2 x readers) and its leave-one-case-out values
    (2 x readers x cases). Needs at least two readers and two cases; raises ValueError otherwise."""
    fom, jack = np.asarray(fom, dtype=float), np.asarray(jack, dtype=float)
    t, r = fom.shape
    c = jack.shape[-1]
    if t != 2 or jack.shape[:2] != (t, r):
        raise ValueError("expected 2 conditions x readers, and the same x cases for the jackknife")
    if r < 2 or c < 2:
        raise ValueError("the OR analysis needs at least two readers and two cases")
    cov = _jackknife_covariance(jack)
    var_error, cov1, cov2, cov3 = _or_covariances(cov, t, r)
    condition_means = fom.mean(axis=1)
    reader_means = fom.mean(axis=0)
    grand = fom.mean()
    ms_t = r * float(((condition_means - grand) ** 2).sum()) / (t - 1)
    interaction = fom - condition_means[:, None] - reader_means[None, :] + grand
    ms_tr = float((interaction**2).sum()) / ((t - 1) * (r - 1))
    # Hillis 2007: the error term and its Satterthwaite degrees of freedom (ddf_H).
    error_term = ms_tr + r * max(cov2 - cov3, 0.0)
    difference = float(condition_means[1] - condition_means[0])
    se = float(np.sqrt(2.0 / r * error_term))
    df = float(error_term**2 / (ms_tr**2 / ((t - 1) * (r - 1)))) if ms_tr > 0 else float("inf")
    if se > 0:
        quantile = stats.t.ppf(1 - alpha / 2, df)
        ci = (difference - quantile * se, difference + quantile * se)
        f_statistic = ms_t / error_term
        p_value = float(stats.f.sf(f_statistic, t - 1, df))
    else:  # every reader identical in both conditions on every case
        ci, f_statistic, p_value = (difference, difference), float("nan"), float("nan")
    return ORHillis(
        fom=fom,
        means=(float(condition_means[0]), float(condition_means[1])),
        difference=difference,
        se=se,
        df=df,
        ci95=(float(ci[0]), float(ci[1])),
        f_statistic=float(f_statistic),
        p_value=p_value,
        ms_t=ms_t,
        ms_tr=ms_tr,
        var_error=var_error,
        cov1=cov1,
        cov2=cov2,
        cov3=cov3,
        n_cases=c,
        readers=[_reader_comparison(fom[:, j], cov, j, r, alpha) for j in range(r)],
    )


def _jackknife_covariance(jack: np.ndarray) -> np.ndarray:
    """Covariances of the (condition, reader) FOMs over cases, flattened condition-major:
    (c - 1) / c times the sum of products of deviations of the leave-one-out values."""
    c = jack.shape[-1]
    flat = jack.reshape(-1, c)
    dev = flat - flat.mean(axis=1, keepdims=True)
    return (c - 1) / c * (dev @ dev.T)


def _or_covariances(cov: np.ndarray, t: int, r: int) -> tuple[float, float, float, float]:
    """Var(error), Cov1, Cov2, Cov3: averages of the covariance matrix's entries by kind."""
    condition = np.repeat(np.arange(t), r)
    reader = np.tile(np.arange(r), t)
    same_t = condition[:, None] == condition[None, :]
    same_r = reader[:, None] == reader[None, :]
    return tuple(
        float(cov[mask].mean()) for mask in (same_t & same_r, ~same_t & same_r, same_t & ~same_r, ~same_t & ~same_r)
    )


def _reader_comparison(fom: np.ndarray, cov: np.ndarray, j: int, r: int, alpha: float) -> ReaderComparison:
    first, second = float(fom[0]), float(fom[1])
    difference = second - first
    variance = cov[j, j] + cov[r + j, r + j] - 2 * cov[j, r + j]
    se = float(np.sqrt(max(variance, 0.0)))
    if se > 0:
        z = stats.norm.ppf(1 - alpha / 2)
        ci = (difference - z * se, difference + z * se)
        p_value = float(2 * stats.norm.sf(abs(difference) / se))
    else:
        ci, p_value = (difference, difference), float("nan")
    return ReaderComparison(first, second, difference, se, (float(ci[0]), float(ci[1])), p_value)


def crossover_errors(
    *, unaided: np.ndarray, aided: np.ndarray, adjudicated: np.ndarray | None = None, combine: str = "mean"
) -> np.ndarray:
    """Absolute error of every read (2 conditions, unaided first, x readers x cases; NaN where not
    scored) against its reference: the adjudicated value of the case when there is one (NaN where
    not), else the mean (or median) of the OTHER readers' unaided reads of the case. A read is
    scored only when the reader read the case in both conditions and a reference exists, so the
    comparison is paired by reader and case and both conditions meet the same reference."""
    unaided, aided = (np.asarray(m, dtype=float) for m in (unaided, aided))  # cases x readers
    reference = _leave_reader_out(unaided, combine)
    if adjudicated is not None:
        adjudicated = np.asarray(adjudicated, dtype=float)[:, None]
        reference = np.where(np.isnan(adjudicated), reference, adjudicated)
    paired = ~np.isnan(unaided) & ~np.isnan(aided) & ~np.isnan(reference)
    errors = np.stack([np.abs(unaided - reference), np.abs(aided - reference)])
    return np.where(paired, errors, np.nan).transpose(0, 2, 1)


def _leave_reader_out(matrix: np.ndarray, combine: str) -> np.ndarray:
    """cases x readers: the mean (or median) of the other readers' values of each case."""
    present = ~np.isnan(matrix)
    if combine == "median":
        out = np.full(matrix.shape, np.nan)
        for j in range(matrix.shape[1]):
            others = np.delete(matrix, j, axis=1)
            has = (~np.isnan(others)).any(axis=1)
            out[has, j] = np.nanmedian(others[has], axis=1)
        return out
    total = np.where(present, matrix, 0.0).sum(axis=1, keepdims=True)
    count = present.sum(axis=1, keepdims=True)
    others_total = total - np.where(present, matrix, 0.0)
    others_count = count - present
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(others_count > 0, others_total / others_count, np.nan)


def paired_reads(values: np.ndarray) -> np.ndarray:
    """Keep a read only where the reader has the case in both conditions (2 x readers x cases)."""
    values = np.asarray(values, dtype=float)
    both = ~np.isnan(values).any(axis=0)
    return np.where(both, values, np.nan)


def usable_readers(values: np.ndarray) -> np.ndarray:
    """Readers (a boolean mask) with at least two paired cases: a leave-one-out mean needs two."""
    return (~np.isnan(paired_reads(values)[0])).sum(axis=-1) >= 2


def or_hillis_mean(values: np.ndarray, *, alpha: float = ALPHA) -> ORHillis:
    """`or_hillis` for a FOM that is a mean over a reader's paired reads (2 x readers x cases, NaN
    where a reader did not read a case in both conditions), over the readers given. Cases that no
    reader read in both conditions are left out: they would only change the jackknife's c."""
    values = paired_reads(values)
    values = values[..., ~np.isnan(values[0]).all(axis=0)]
    fom, jack = mean_fom_jackknife(values)
    return or_hillis(fom=fom, jack=jack, alpha=alpha)
