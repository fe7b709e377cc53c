"""Case-bootstrap confidence intervals, and the fast replicates of alpha and kappa computed from
per-case coincidence and confusion counts (tests check them against the libraries)."""

import warnings
from collections.abc import Iterator, Sequence
from itertools import combinations, permutations

import numpy as np
import numpy.typing as npt
from scipy import sparse

from scoring.agreement.base import _BLOCK, Statistic, _as_matrix, _codes, _number

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
