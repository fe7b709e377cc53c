"""Gwet's AC1 (nominal) and AC2 (quadratic weights) for any number of raters with missing ratings,
with Gwet's standard error conditional on the raters (Gwet 2008; Handbook of Inter-Rater
Reliability, 4th ed. 2014, chapters 2-5). Pure NumPy/SciPy.

Conventions (as Gwet's handbook and his irrCAC package):
- The categories are the rubric's value domain when there is one, else the values observed;
  AC2's quadratic weights use the category values: 1 - (x_k - x_l)^2 / (max - min)^2.
- Observed agreement averages over the cases with two or more ratings; the category shares pi_k
  over every case with at least one rating.
- The variance is over cases only (raters fixed); the 95% CI uses Student's t with n - 1 degrees
  of freedom and is cut to [-1, 1].
"""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.stats import t as t_dist

from scoring.agreement.base import Undefined, _as_matrix, _codes, _value_domain

WEIGHTS = ("identity", "quadratic")


def _weights(labels: np.ndarray, kind: str) -> np.ndarray:
    if kind == "identity":
        return np.eye(len(labels))
    spread = labels.max() - labels.min()
    return 1 - (labels[:, None] - labels[None, :]) ** 2 / spread**2


def _category_counts(m: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """r_ik: how many raters put case i in category k."""
    codes = _codes(m, labels)
    counts = np.zeros((m.shape[0], len(labels)))
    rows, cols = np.nonzero(codes >= 0)
    np.add.at(counts, (rows, codes[rows, cols]), 1)
    return counts


def _problem(m: np.ndarray, labels: np.ndarray | Undefined) -> Undefined | None:
    if isinstance(labels, Undefined):
        return labels
    if m.shape[1] < 2:
        return Undefined("fewer than two raters")
    if ((~np.isnan(m)).sum(axis=1) >= 2).sum() < 2:
        return Undefined("fewer than two cases rated by two or more raters")
    if len(labels) < 2:
        return Undefined("only one category: chance agreement is undefined")
    return None


def gwet_ac(
    matrix: npt.ArrayLike, *, domain: Sequence[float] | None, weights: str = "identity", alpha: float = 0.05
) -> dict | Undefined:
    """AC1 (identity weights) or AC2 (quadratic weights) with standard error, CI and p-value."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}")
    m = _as_matrix(matrix)
    m = m[(~np.isnan(m)).any(axis=1)]
    labels = _value_domain(m, domain)
    problem = _problem(m, labels)
    if problem:
        return problem
    w = _weights(labels, weights)
    r_ik = _category_counts(m, labels)
    r_i = r_ik.sum(axis=1)
    pairable = r_i >= 2
    n, n2, q = r_ik.shape[0], int(pairable.sum()), len(labels)
    weighted = r_ik @ w.T  # r*_ik = sum_l w_kl r_il
    pa_i = np.zeros(n)
    pa_i[pairable] = (r_ik * (weighted - 1)).sum(axis=1)[pairable] / (r_i * (r_i - 1))[pairable]
    pa = pa_i[pairable].mean()
    pi_k = (r_ik / r_i[:, None]).mean(axis=0)
    chance = w.sum() / (q * (q - 1))
    pe = chance * (pi_k * (1 - pi_k)).sum()
    if pe >= 1:
        return Undefined("chance agreement is 1")
    value = (pa - pe) / (1 - pe)
    # Gwet (2008), eq. for the variance of AC1 with missing ratings: per-case terms, linearised.
    ac_i = (n / n2) * (pa_i - pe * pairable) / (1 - pe)
    pe_i = chance * (r_ik @ (1 - pi_k)) / r_i
    ac_i -= 2 * (1 - value) * (pe_i - pe) / (1 - pe)
    se = float(np.sqrt(((ac_i - value) ** 2).sum() / (n * (n - 1))))
    t = t_dist.ppf(1 - alpha / 2, n - 1)
    p_value = float(2 * t_dist.sf(abs(value / se), n - 1)) if se > 0 else None
    return {
        "value": float(value),
        "ci95": [float(max(-1.0, value - t * se)), float(min(1.0, value + t * se))],
        "se": se,
        "p_value": p_value,
        "pa": float(pa),
        "pe": float(pe),
        "n_cases": n,
        "n_cases_pairable": n2,
        "weights": weights,
    }
