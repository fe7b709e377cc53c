"""Inter-rater agreement over a cases x raters matrix. Pure NumPy/SciPy: no database, no Django.

The input is a float array with one row per case, one column per rater and NaN for a missing rating.
Statistics come from well-kept libraries where one exists (krippendorff, scikit-learn, statsmodels,
SciPy); this module chooses the cases each statistic may use and turns "cannot be computed" into
`Undefined(reason)`, so a report shows null with a reason instead of NaN or a crash.

Conventions a methods reviewer will ask about:
- Krippendorff's alpha uses every pairable value (cases with at least two ratings).
- ICC uses every case with two or more ratings: the two-way ANOVA when every rater scored all of
  them, else ICC(1,.) from the unbalanced one-way ANOVA (k0) and the two-way ICCs from REML
  variance components (variance.py); each entry names its estimator and cases ("icc_n_cases").
- Fleiss' kappa needs the same NUMBER of ratings per case, not the same raters: it uses every case
  with two or more ratings when they all have the same number, else it is null with a reason
  ("fleiss_kappa_n_cases").
- Gwet's AC1/AC2 (gwet.py) and Lin's/the overall CCC (concordance.py) allow missing ratings; each
  reports the cases it used.
- Weighted kappa is quadratic-weighted Cohen's kappa per rater pair, on the cases both rated; as in
  scikit-learn, the weights are the squared distances between the positions of the labels in the
  value domain (the rubric's values, or the values observed anywhere in the matrix).
- Consensus for rater bias and Bland-Altman is leave-one-out: the mean of the OTHER raters on that
  case, so a rater is never compared with a consensus that contains their own rating.
- 95% CIs for alpha and the mean kappa come from a case bootstrap (rows resampled with replacement,
  seeded, percentile 2.5/97.5, undefined replicates left out), with the BCa interval (jackknife
  acceleration) next to it as "ci95_bca". With patient ids (`clusters`) whole patients are resampled,
  so serial images of one patient move together. With raters="random" the raters are resampled too
  (two-way bootstrap, readers random): a rater drawn twice is two columns, and BCa's acceleration
  pools the leave-one-case-out and leave-one-rater-out values. The other intervals are analytic or
  jackknife (summary.ci_methods names each) and do not follow this choice.
  For speed the summary computes the replicates from per-case coincidence and confusion counts;
  tests check that this equals calling the libraries on every resample.
- Bland-Altman limits carry 95% CIs (Bland & Altman 1999: SE sqrt(3 s^2 / n), t with n - 1 df).
"""

from scoring.agreement.base import ICC_KEYS, LEVELS, Undefined
from scoring.agreement.bootstrap import bootstrap_ci
from scoring.agreement.coefficients import (
    bland_altman,
    exact_agreement,
    fleiss_kappa,
    icc_all,
    krippendorff_alpha,
    rater_stats,
    weighted_kappa_pairs,
    within_one,
)
from scoring.agreement.summary import agreement_summary

__all__ = [
    "ICC_KEYS",
    "LEVELS",
    "Undefined",
    "agreement_summary",
    "bland_altman",
    "bootstrap_ci",
    "exact_agreement",
    "fleiss_kappa",
    "icc_all",
    "krippendorff_alpha",
    "rater_stats",
    "weighted_kappa_pairs",
    "within_one",
]
