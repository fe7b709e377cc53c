"""Everything for one score (a total or an item) in one JSON-ready dict, with bootstrap CIs."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from scoring.agreement.base import (
    _FAST_MAX_VALUES,
    LEVELS,
    Statistic,
    Undefined,
    _as_matrix,
    _check_names,
    _entry,
    _number,
    _plain,
)
from scoring.agreement.bootstrap import _bca_ci, _fast_replicates, _jackknife, _percentile_ci, _resamples
from scoring.agreement.coefficients import (
    bland_altman,
    exact_agreement,
    fleiss_cases,
    fleiss_kappa,
    icc_all,
    krippendorff_alpha,
    rater_stats,
    weighted_kappa_pairs,
    within_one,
)
from scoring.agreement.concordance import lin_ccc
from scoring.agreement.cutoffs import kappa_at_cutoffs
from scoring.agreement.gwet import gwet_ac
from scoring.agreement.variance import variance_components

# --- summary ---------------------------------------------------------------------------------


def _with_ci(
    entry: dict, ci: list[float] | None, n_boot: int, key: str = "value", bca: list[float] | None = None
) -> dict:
    if entry[key] is None:
        return entry | {"ci95": None}
    if ci is None:
        reason = "bootstrap disabled" if n_boot < 1 else "no bootstrap resample gave a defined value"
        return entry | {"ci95": None, "ci95_bca": None, "reason": reason}
    return entry | {"ci95": ci, "ci95_bca": bca}


def _replicates(
    m: np.ndarray,
    domain: Sequence[float] | None,
    levels: list[str],
    kappa: bool,
    n_boot: int,
    seed: int,
    clusters: Sequence | None = None,
    *,
    jackknife: bool = False,
) -> dict[str, np.ndarray]:
    if n_boot < 1 or m.shape[0] < 2 or not (levels or kappa):
        return {}
    # Observed values joined with the domain: equal to the sorted domain whenever kappa and nominal/
    # ordinal alpha are defined, and still covering every value for interval/ratio when they are not.
    values = np.union1d(np.unique(m[~np.isnan(m)]), [] if domain is None else np.asarray(domain, dtype=float))
    if len(values) <= _FAST_MAX_VALUES:
        return _fast_replicates(m, values, levels, kappa, n_boot, seed, clusters, jackknife=jackknife)
    return _slow_replicates(m, domain, levels, kappa, n_boot, seed, clusters, jackknife=jackknife)


def _slow_replicates(
    m: np.ndarray,
    domain: Sequence[float] | None,
    levels: list[str],
    kappa: bool,
    n_boot: int,
    seed: int,
    clusters: Sequence | None = None,
    *,
    jackknife: bool = False,
) -> dict[str, np.ndarray]:
    names = [str(r) for r in range(m.shape[1])]
    statistics: dict[str, Statistic] = {
        level: lambda x, level=level: krippendorff_alpha(x, level=level, domain=domain) for level in levels
    }
    if kappa:
        statistics["kappa"] = lambda x: weighted_kappa_pairs(x, names, domain=domain)["mean"]

    def samples():  # drawn again for each statistic: a list of them all could take much memory
        return _jackknife(m.shape[0], clusters) if jackknife else _resamples(m.shape[0], n_boot, seed, clusters)

    return {key: np.array([_number(stat(m[idx])) for idx in samples()]) for key, stat in statistics.items()}


def _gwet_entry(result: dict | Undefined) -> dict:
    if isinstance(result, Undefined):
        return {"value": None, "ci95": None, "reason": result.reason}
    return result


def _icc_estimator(icc: dict[str, dict]) -> str:
    """In words, for the report: which estimator gave the ICCs."""
    if icc["ICC2_1"].get("estimator") == "two_way_anova":
        return "two-way ANOVA: every rater scored every case used"
    return (
        "incomplete design: ICC(1,1) and ICC(1,k) from the unbalanced one-way ANOVA (k0 ratings per case), "
        "two-way ICCs from REML variance components (crossed random case and reader effects)"
    )


def agreement_summary(
    matrix: npt.ArrayLike,
    rater_names: Sequence[str],
    *,
    domain: Sequence[float] | None,
    categorical: bool,
    n_boot: int = 1000,
    seed: int = 0,
    cutoffs: Sequence[float] | None = None,
    clusters: Sequence | None = None,
) -> dict:
    """Every agreement statistic for one score, JSON-ready: plain floats, None (with a reason) for undefined.

    Cases nobody rated are dropped first: they carry no information and would only add noise to the
    bootstrap. Scalar statistics that are undefined are explained in the top-level "undefined" map.
    With `cutoffs`, also the agreement on "score >= cut-off" at each ("kappa_at_cutoffs").
    With `clusters` (a patient id per case) the bootstrap resamples patients with all their cases.
    Each bootstrap CI comes as percentile ("ci95") and BCa ("ci95_bca", jackknife acceleration).
    """
    if n_boot < 0:
        raise ValueError("n_boot must be >= 0")
    m = _as_matrix(matrix)
    if m.size == 0:
        m = m.reshape(0, len(rater_names))
    _check_names(m, rater_names)
    rated = (~np.isnan(m)).any(axis=1)
    if clusters is not None:
        if len(clusters) != m.shape[0]:
            raise ValueError(f"{len(clusters)} cluster labels for {m.shape[0]} cases")
        clusters = [label for label, keep in zip(clusters, rated, strict=True) if keep]
    m = m[rated]
    alphas = {level: _entry(krippendorff_alpha(m, level=level, domain=domain)) for level in LEVELS}
    kappa = weighted_kappa_pairs(m, rater_names, domain=domain)
    defined_levels = [level for level in LEVELS if alphas[level]["value"] is not None]
    boot = (m, domain, defined_levels, kappa["mean"] is not None, n_boot, seed, clusters)
    replicates, jackknife = _replicates(*boot), _replicates(*boot, jackknife=True)
    estimates = {level: alphas[level]["value"] for level in defined_levels} | {"kappa": kappa["mean"]}

    def ci(key: str) -> list[float] | None:
        return _percentile_ci(replicates[key]) if key in replicates else None

    def bca(key: str) -> list[float] | None:
        return _bca_ci(replicates[key], estimates[key], jackknife[key]) if key in replicates else None

    scalars = {
        "fleiss_kappa": fleiss_kappa(m, domain=domain) if categorical else Undefined("continuous total"),
        "exact_agreement": exact_agreement(m),
        "within_one": within_one(m),
    }
    icc = icc_all(m)
    extra = {"kappa_at_cutoffs": kappa_at_cutoffs(m, rater_names, cutoffs=cutoffs)} if cutoffs else {}
    return {
        "n_cases": int(m.shape[0]),
        "krippendorff_alpha": {level: _with_ci(alphas[level], ci(level), n_boot, bca=bca(level)) for level in LEVELS},
        "icc": icc,
        "icc_n_cases": icc["ICC1_1"]["n_cases"],
        "icc_estimator": _icc_estimator(icc),
        "fleiss_kappa": _plain(scalars["fleiss_kappa"]),
        "fleiss_kappa_n_cases": int(fleiss_cases(m).sum()),
        "gwet_ac1": _gwet_entry(gwet_ac(m, domain=domain, weights="identity")),
        "gwet_ac2": _gwet_entry(gwet_ac(m, domain=domain, weights="quadratic")),
        "lin_ccc": lin_ccc(m),
        "variance_components": variance_components(m, ordinal=categorical),
        "weighted_kappa": _with_ci(kappa, ci("kappa"), n_boot, key="mean", bca=bca("kappa")),
        "exact_agreement": _plain(scalars["exact_agreement"]),
        "within_one": _plain(scalars["within_one"]),
        "raters": rater_stats(m, rater_names),
        "bland_altman": bland_altman(m, rater_names),
        "undefined": {key: value.reason for key, value in scalars.items() if isinstance(value, Undefined)},
    } | extra
