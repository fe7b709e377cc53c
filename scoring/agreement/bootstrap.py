"""Case- or patient-bootstrap confidence intervals (percentile and BCa), and the fast replicates of alpha
and kappa computed from per-case coincidence and confusion counts (tests check them against the libraries)."""

import warnings
from collections.abc import Iterator, Sequence
from itertools import combinations, permutations

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.special import ndtr, ndtri

from scoring.agreement.base import _BLOCK, Statistic, _as_matrix, _codes, _number

CI_METHODS = ("percentile", "bca")

# --- bootstrap -------------------------------------------------------------------------------


def _units(n: int, clusters: Sequence | None) -> list[np.ndarray]:
    """The rows of each resampling unit: one case each, or all the cases of one patient together."""
    if clusters is None:
        return [np.array([row]) for row in range(n)]
    if len(clusters) != n:
        raise ValueError(f"{len(clusters)} cluster labels for {n} cases")
    rows: dict[object, list[int]] = {}  # in order of first appearance: the labels' spelling is no matter
    for row, label in enumerate(clusters):
        rows.setdefault(label, []).append(row)
    return [np.array(members) for members in rows.values()]


def _resamples(n: int, n_boot: int, seed: int, clusters: Sequence | None = None) -> Iterator[np.ndarray]:
    """Case indices of each resample. One draw per resample, so the numbers do not depend on how the
    fast path groups resamples into blocks: both paths see the same resamples for a seed. With
    `clusters` (a patient id per case) patients are drawn and bring all their cases: serial images of
    one patient are not independent, and resampling them apart understates the standard error."""
    rng = np.random.default_rng(seed)
    if clusters is None:
        for _ in range(n_boot):
            yield rng.integers(0, n, size=n)
        return
    units = _units(n, clusters)
    for _ in range(n_boot):
        yield np.concatenate([units[u] for u in rng.integers(0, len(units), size=len(units))])


def _jackknife(n: int, clusters: Sequence | None = None) -> Iterator[np.ndarray]:
    """Case indices with one unit (a case, or a patient's cases) left out, for BCa's acceleration."""
    for unit in _units(n, clusters):
        yield np.setdiff1d(np.arange(n), unit)


def _percentile_ci(replicates: np.ndarray) -> list[float] | None:
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return None
    low, high = np.percentile(finite, [2.5, 97.5])
    return [float(low), float(high)]


def _bca_ci(replicates: np.ndarray, estimate: float | None, jackknife: np.ndarray) -> list[float] | None:
    """Efron's bias-corrected and accelerated 95% interval (Efron & Tibshirani 1993, chapter 14):
    bias z0 from the share of replicates below the estimate (ties count half, as in SciPy), acceleration
    from the skewness of the leave-one-unit-out (jackknife) values; undefined replicates left out."""
    finite = replicates[np.isfinite(replicates)]
    jack = jackknife[np.isfinite(jackknife)]
    if finite.size == 0 or estimate is None or not np.isfinite(estimate) or jack.size < 2:
        return None
    z0 = ndtri((np.count_nonzero(finite < estimate) + np.count_nonzero(finite <= estimate)) / (2 * finite.size))
    spread = jack.mean() - jack
    denominator = 6 * float((spread**2).sum()) ** 1.5
    acceleration = float((spread**3).sum()) / denominator if denominator > 0 else 0.0
    z = z0 + ndtri(np.array([0.025, 0.975]))
    with np.errstate(invalid="ignore", divide="ignore"):  # z0 infinite: handled just below
        levels = ndtr(z0 + z / (1 - acceleration * z))
    if not np.isfinite(levels).all():
        return None  # every replicate on one side of the estimate: no bias correction is possible
    low, high = np.percentile(finite, 100 * levels)
    return [float(low), float(high)]


def bootstrap_ci(
    matrix: npt.ArrayLike,
    statistic: Statistic,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    method: str = "percentile",
    clusters: Sequence | None = None,
) -> list[float] | None:
    """95% CI of `statistic` over resampled cases ("percentile" or "bca"); undefined replicates are left
    out. With `clusters` (one label per case, e.g. the patient id) whole clusters are resampled."""
    if method not in CI_METHODS:
        raise ValueError(f"method must be one of {CI_METHODS}")
    m = _as_matrix(matrix)
    if m.shape[0] < 2 or n_boot < 1:
        return None
    replicates = np.array([_number(statistic(m[idx])) for idx in _resamples(m.shape[0], n_boot, seed, clusters)])
    if method == "percentile":
        return _percentile_ci(replicates)
    jackknife = np.array([_number(statistic(m[idx])) for idx in _jackknife(m.shape[0], clusters)])
    estimate = _number(statistic(m))
    return _bca_ci(replicates, estimate if np.isfinite(estimate) else None, jackknife)


# The summary's fast path. A resample is a vector of counts over the distinct rating patterns (rows);
# the coincidence matrix of alpha and each pair's confusion matrix are sums of per-pattern
# contributions, so a block of resamples is one (sparse) matrix product.


def _pattern_counts(
    inverse: np.ndarray, n_patterns: int, draws: Iterator[np.ndarray], n_draws: int
) -> Iterator[np.ndarray]:
    """Blocks of pattern counts, one row per resample (or jackknife sample) of case indices."""
    for start in range(0, n_draws, _BLOCK):
        counts = np.empty((min(_BLOCK, n_draws - start), n_patterns))
        for row in range(counts.shape[0]):
            counts[row] = np.bincount(inverse[next(draws)], minlength=n_patterns)
        yield counts


def _jackknife_counts(inverse: np.ndarray, n_patterns: int, units: list[np.ndarray]) -> Iterator[np.ndarray]:
    """Blocks of pattern counts with one unit left out: all the cases minus that unit's cases."""
    everything = np.bincount(inverse, minlength=n_patterns).astype(float)
    for start in range(0, len(units), _BLOCK):
        block = units[start : start + _BLOCK]
        yield np.stack([everything - np.bincount(inverse[unit], minlength=n_patterns) for unit in block])


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
    m: np.ndarray,
    values: np.ndarray,
    levels: Sequence[str],
    kappa: bool,
    n_boot: int,
    seed: int,
    clusters: Sequence | None = None,
    *,
    jackknife: bool = False,
) -> dict[str, np.ndarray]:
    """Bootstrap replicates of alpha (each level) and of the mean pairwise kappa, in one pass; with
    `jackknife`, the leave-one-unit-out values instead (for BCa)."""
    n_values = len(values)
    patterns, inverse = np.unique(_codes(m, values), axis=0, return_inverse=True)
    coincidence = _coincidence_contributions(patterns, n_values)
    pairs = (
        [_confusion_contributions(patterns, a, b, n_values) for a, b in combinations(range(m.shape[1]), 2)]
        if kappa
        else []
    )
    out: dict[str, list[np.ndarray]] = {key: [] for key in [*levels, *(["kappa"] if kappa else [])]}
    inverse = inverse.ravel()
    expand = None
    if jackknife and clusters is None:
        # Leaving out either of two cases with the same ratings gives the same value: one per pattern.
        first = np.unique(inverse, return_index=True)[1]
        blocks, expand = _jackknife_counts(inverse, len(patterns), [np.array([row]) for row in first]), inverse
    elif jackknife:
        blocks = _jackknife_counts(inverse, len(patterns), _units(m.shape[0], clusters))
    else:
        blocks = _pattern_counts(inverse, len(patterns), _resamples(m.shape[0], n_boot, seed, clusters), n_boot)
    for counts in blocks:
        o = (counts @ coincidence).reshape(-1, n_values, n_values)
        for level in levels:
            out[level].append(_alpha_from_coincidences(o, values, level))
        if pairs:
            per_pair = np.stack([_kappa_from_confusion((counts @ c).reshape(-1, n_values, n_values)) for c in pairs])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all pairs undefined: NaN, left out
                out["kappa"].append(np.nanmean(per_pair, axis=0))
    result = {key: np.concatenate(parts) if parts else np.empty(0) for key, parts in out.items()}
    return {key: column[expand] for key, column in result.items()} if expand is not None else result
