"""Agreement on a clinical decision: each score dichotomised at a cut-off chosen by the study owner
(positive: score >= cut-off), then Cohen's kappa per rater pair, Fleiss' kappa and Gwet's AC1,
which stays stable when positives are rare. Pure NumPy."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from scoring.agreement.base import Undefined, _as_matrix, _entry
from scoring.agreement.coefficients import fleiss_kappa, weighted_kappa_pairs
from scoring.agreement.gwet import gwet_ac


def kappa_at_cutoffs(matrix: npt.ArrayLike, rater_names: Sequence[str], *, cutoffs: Sequence[float]) -> list[dict]:
    """For each cut-off: the share of positive ratings and the chance-corrected agreement on
    positive/negative, on the cases with two or more ratings. With two categories, the
    quadratic-weighted kappa of each pair is Cohen's unweighted kappa."""
    m = _as_matrix(matrix)
    m = m[(~np.isnan(m)).sum(axis=1) >= 2] if m.size else m.reshape(0, len(rater_names))
    out = []
    for cutoff in sorted(set(cutoffs)):
        binary = np.where(np.isnan(m), np.nan, (m >= cutoff).astype(float))
        present = binary[~np.isnan(binary)]
        ac1 = gwet_ac(binary, domain=[0, 1])
        out.append(
            {
                "cutoff": float(cutoff),
                "n_cases": int(m.shape[0]),
                "positive_share": float(present.mean()) if present.size else None,
                "cohen_kappa_mean": weighted_kappa_pairs(binary, rater_names, domain=[0, 1])["mean"],
                "fleiss_kappa": _entry(fleiss_kappa(binary, domain=[0, 1])),
                "gwet_ac1": {"value": None, "ci95": None, "reason": ac1.reason}
                if isinstance(ac1, Undefined)
                else {"value": ac1["value"], "ci95": ac1["ci95"]},
            }
        )
    return out
