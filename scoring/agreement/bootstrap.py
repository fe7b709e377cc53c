"""Case- or patient-bootstrap confidence intervals (percentile and BCa), optionally two-way (raters
resampled too), and the fast replicates of alpha and kappa computed from per-case coincidence and
confusion counts (tests check them against the libraries)."""

import warnings
from collections.abc import Iterator, Sequence
from itertools import combinations, combinations_with_replacement, permutations

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.special import ndtr, ndtri

from scoring.agreement.base import _BLOCK, Statistic, _as_matrix, _codes, _number

CI_METHODS = ("percentile", "bca")
# Raters "fixed": cases (or patients) resampled, the interval is about these readers. "random": raters
# resampled with replacement as well (the two-way bootstrap), about readers at large. A rater drawn
# twice is two columns, as in any resample: statistics that need distinct raters are not resampled.
RATERS = ("fixed", "random")

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


def _rater_resamples(k: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Rater columns of each two-way resample, drawn with replacement. A stream of their own, so a
    seed's case draws are the same with raters fixed or random: the intervals differ only by them."""
    rng = np.random.default_rng([seed, 1])
    for _ in range(n_boot):
        yield rng.integers(0, k, size=k)


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


def _bca_ci(
    replicates: np.ndarray, estimate: float | None, jackknife: np.ndarray | Sequence[np.ndarray]
) -> list[float] | None:
    """Efron's bias-corrected and accelerated 95% interval (Efron & Tibshirani 1993, chapter 14):
    bias z0 from the share of replicates below the estimate (ties count half, as in SciPy), acceleration
    from the skewness of the leave-one-unit-out (jackknife) values; undefined replicates left out.
    Two-way (cases and raters resampled): `jackknife` is [leave-one-case-out, leave-one-rater-out]
    values, whose deviations are pooled as for a multi-sample statistic (Davison & Hinkley 1997,
    section 3.2 and 5.3.2: the acceleration sums the influence terms of every sample)."""
    finite = replicates[np.isfinite(replicates)]
    groups = [jackknife] if isinstance(jackknife, np.ndarray) else list(jackknife)
    groups = [group[np.isfinite(group)] for group in groups]
    if finite.size == 0 or estimate is None or not np.isfinite(estimate) or groups[0].size < 2:
        return None
    z0 = ndtri((np.count_nonzero(finite < estimate) + np.count_nonzero(finite <= estimate)) / (2 * finite.size))
    spread = np.concatenate([group.mean() - group for group in groups if group.size >= 2])
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
    raters: str = "fixed",
) -> list[float] | None:
    """95% CI of `statistic` over resampled cases ("percentile" or "bca"); undefined replicates are left
    out. With `clusters` (one label per case, e.g. the patient id) whole clusters are resampled. With
    raters="random" the rater columns are resampled too (two-way): `statistic` then sees a rater drawn
    twice as two columns."""
    if method not in CI_METHODS:
        raise ValueError(f"method must be one of {CI_METHODS}")
    if raters not in RATERS:
        raise ValueError(f"raters must be one of {RATERS}")
    m = _as_matrix(matrix)
    if m.shape[0] < 2 or n_boot < 1 or (raters == "random" and m.shape[1] < 2):
        return None
    rows = _resamples(m.shape[0], n_boot, seed, clusters)
    if raters == "random":
        draws = zip(rows, _rater_resamples(m.shape[1], n_boot, seed), strict=True)
        replicates = np.array([_number(statistic(m[idx][:, cols])) for idx, cols in draws])
    else:
        replicates = np.array([_number(statistic(m[idx])) for idx in rows])
    if method == "percentile":
        return _percentile_ci(replicates)
    jackknife = [np.array([_number(statistic(m[idx])) for idx in _jackknife(m.shape[0], clusters)])]
    if raters == "random":
        jackknife.append(np.array([_number(statistic(np.delete(m, j, axis=1))) for j in range(m.shape[1])]))
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


# The two-way fast path. A resample is a vector of counts over the rating patterns (rows) and one of
# multiplicities over the raters (columns). A rater drawn c times is c columns: per pattern, the count
# of each value is then sum_j c_j [x_j = v], so the coincidences and the pairs follow in closed form.


def _onehot(patterns: np.ndarray, n_values: int) -> np.ndarray:
    """patterns x raters x values: 1 where the rater gave that value on that pattern."""
    out = np.zeros((*patterns.shape, n_values))
    rows, cols = np.nonzero(patterns >= 0)
    out[rows, cols, patterns[rows, cols]] = 1
    return out


def _two_way_draws(
    inverse: np.ndarray, n_patterns: int, k: int, n_boot: int, seed: int, clusters: Sequence | None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Blocks of (pattern counts, rater multiplicities), one row per two-way resample."""
    rows, cols = _resamples(len(inverse), n_boot, seed, clusters), _rater_resamples(k, n_boot, seed)
    for start in range(0, n_boot, _BLOCK):
        size = min(_BLOCK, n_boot - start)
        counts, columns = np.empty((size, n_patterns)), np.empty((size, k))
        for row in range(size):
            counts[row] = np.bincount(inverse[next(rows)], minlength=n_patterns)
            columns[row] = np.bincount(next(cols), minlength=k)
        yield counts, columns


def _pair_weights(columns: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """How many column pairs each rater pair stands for: c_a c_b, or c_a (c_a - 1) / 2 for a rater
    drawn more than once paired with its own copy (a kappa of 1 wherever kappa is defined)."""
    return np.stack([columns[:, a] * (columns[:, b] - (a == b)) / (1 + (a == b)) for a, b in pairs])


def _two_way_values(
    counts: np.ndarray, columns: np.ndarray, onehot: np.ndarray, confusions: list, pairs: list, values, levels
) -> dict[str, np.ndarray]:
    n_values = len(values)
    per_value = np.einsum("pjv,bj->bpv", onehot, columns)
    m_u = per_value.sum(axis=2)
    weight = np.divide(counts, m_u - 1, out=np.zeros_like(counts), where=m_u >= 2)
    weighted = weight[:, :, None] * per_value
    o = weighted.transpose(0, 2, 1) @ per_value  # ordered pairs of columns: n_v n_w, less n_v on the diagonal
    diagonal = np.arange(n_values)
    o[:, diagonal, diagonal] -= weighted.sum(axis=1)
    out = {level: _alpha_from_coincidences(o, values, level) for level in levels}
    if pairs:
        kappas = np.stack([_kappa_from_confusion((counts @ c).reshape(-1, n_values, n_values)) for c in confusions])
        w = np.where(np.isfinite(kappas), _pair_weights(columns, pairs), 0.0)
        total = w.sum(axis=0)
        summed = np.where(w > 0, w * np.nan_to_num(kappas), 0.0).sum(axis=0)
        out["kappa"] = np.divide(summed, total, out=np.full(total.shape, np.nan), where=total > 0)
    return out


def _fast_two_way(
    m: np.ndarray,
    values: np.ndarray,
    levels: Sequence[str],
    kappa: bool,
    n_boot: int,
    seed: int,
    clusters: Sequence | None = None,
    *,
    jackknife: bool = False,
) -> dict[str, np.ndarray | list[np.ndarray]]:
    """Two-way bootstrap replicates of alpha (each level) and of the mean pairwise kappa, equal to the
    libraries on m[cases][:, raters] for each resample. With `jackknife`, for each statistic the
    leave-one-unit-out values and the leave-one-rater-out values (BCa's two groups)."""
    n_values, k = len(values), m.shape[1]
    patterns, inverse = np.unique(_codes(m, values), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    onehot = _onehot(patterns, n_values)
    pairs = list(combinations_with_replacement(range(k), 2)) if kappa else []
    confusions = [_confusion_contributions(patterns, a, b, n_values) for a, b in pairs]
    keys = [*levels, *(["kappa"] if kappa else [])]
    chunk = max(1, 2_000_000 // (len(patterns) * n_values))  # bounds the resamples x patterns x values array

    def run(blocks) -> dict[str, np.ndarray]:
        parts = [
            _two_way_values(c[i : i + chunk], cols[i : i + chunk], onehot, confusions, pairs, values, levels)
            for c, cols in blocks
            for i in range(0, len(c), chunk)
        ]
        return {key: np.concatenate([part[key] for part in parts]) if parts else np.empty(0) for key in keys}

    if not jackknife:
        return run(_two_way_draws(inverse, len(patterns), k, n_boot, seed, clusters))
    units = _units(m.shape[0], clusters)
    case_blocks = ((c, np.ones((len(c), k))) for c in _jackknife_counts(inverse, len(patterns), units))
    everything = np.bincount(inverse, minlength=len(patterns)).astype(float)
    rater_blocks = [(np.tile(everything, (k, 1)), 1 - np.eye(k))]
    by_case, by_rater = run(case_blocks), run(rater_blocks)
    return {key: [by_case[key], by_rater[key]] for key in keys}
