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
from scoring.agreement.bootstrap import (
    RATERS,
    _bca_ci,
    _fast_replicates,
    _fast_two_way,
    _jackknife,
    _percentile_ci,
    _rater_resamples,
    _resamples,
)
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
    raters: str = "fixed",
) -> dict[str, np.ndarray]:
    if n_boot < 1 or m.shape[0] < 2 or not (levels or kappa):
        return {}
    # Observed values joined with the domain: equal to the sorted domain whenever kappa and nominal/
    # ordinal alpha are defined, and still covering every value for interval/ratio when they are not.
    values = np.union1d(np.unique(m[~np.isnan(m)]), [] if domain is None else np.asarray(domain, dtype=float))
    if len(values) <= _FAST_MAX_VALUES:
        fast = _fast_two_way if raters == "random" else _fast_replicates
        return fast(m, values, levels, kappa, n_boot, seed, clusters, jackknife=jackknife)
    return _slow_replicates(m, domain, levels, kappa, n_boot, seed, clusters, jackknife=jackknife, raters=raters)


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
    raters: str = "fixed",
) -> dict[str, np.ndarray]:
    statistics: dict[str, Statistic] = {
        level: lambda x, level=level: krippendorff_alpha(x, level=level, domain=domain) for level in levels
    }
    if kappa:  # raters named by position: a rater drawn twice is two columns
        statistics["kappa"] = lambda x: weighted_kappa_pairs(x, [str(r) for r in range(x.shape[1])], domain=domain)[
            "mean"
        ]
    everyone = np.arange(m.shape[1])

    def samples():  # drawn again for each statistic: a list of them all could take much memory
        if jackknife:
            return ((idx, everyone) for idx in _jackknife(m.shape[0], clusters))
        rows = _resamples(m.shape[0], n_boot, seed, clusters)
        if raters == "random":
            return zip(rows, _rater_resamples(m.shape[1], n_boot, seed), strict=True)
        return ((idx, everyone) for idx in rows)

    out = {
        key: np.array([_number(stat(m[idx][:, cols])) for idx, cols in samples()]) for key, stat in statistics.items()
    }
    if jackknife and raters == "random":
        for key, stat in statistics.items():
            left_out = np.array([_number(stat(np.delete(m, j, axis=1))) for j in everyone])
            out[key] = [out[key], left_out]
    return out


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


def _ratings_per_case(m: np.ndarray) -> int | None:
    """The number of ratings on each case Fleiss' kappa uses, when it is the same on all of them."""
    per_case = np.unique((~np.isnan(m[fleiss_cases(m)])).sum(axis=1))
    return int(per_case[0]) if per_case.size == 1 else None


def case_sets(m: np.ndarray, *, categorical: bool = True) -> dict[str, dict]:
    """The cases each statistic uses, in words and as a count (rows: the cases anyone rated)."""
    pairable = int(((~np.isnan(m)).sum(axis=1) >= 2).sum())
    per_case = _ratings_per_case(m) if categorical else None
    fleiss = (
        f"the cases with two or more ratings, each with the same number ({per_case})"
        if per_case
        else "none: the number of ratings per case varies (Fleiss 1971 needs the same number on every case)"
        if categorical
        else "none: a total is not categorical"
    )
    rules = {
        "krippendorff_alpha": ("every case with two or more ratings (every pairable value)", pairable),
        "icc": ("every case with two or more ratings; the estimator says how missing ratings are handled", pairable),
        "fleiss_kappa": (fleiss, pairable if per_case else 0),
        "gwet_ac1_ac2": (
            "agreement over the cases with two or more ratings, category shares over every case",
            pairable,
        ),
        "lin_ccc": ("each pair of raters on the cases both rated (cases with two or more ratings)", pairable),
        "variance_components": ("every rating on the cases with two or more ratings", pairable),
        "weighted_kappa": ("each pair of raters on the cases both rated: the n of each pair", pairable),
        "exact_agreement": ("every pair of ratings on the same case, pooled over cases", pairable),
        "raters": ("mean: each rater's own cases (n); bias and MAE: those another rater also scored", pairable),
    }
    return {name: {"cases": rule, "n_cases": n} for name, (rule, n) in rules.items()}


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
    raters: str = "fixed",
) -> dict:
    """Every agreement statistic for one score, JSON-ready: plain floats, None (with a reason) for undefined.

    Cases nobody rated are dropped first: they carry no information and would only add noise to the
    bootstrap. Scalar statistics that are undefined are explained in the top-level "undefined" map.
    With `cutoffs`, also the agreement on "score >= cut-off" at each ("kappa_at_cutoffs").
    With `clusters` (a patient id per case) the bootstrap resamples patients with all their cases.
    Each bootstrap CI comes as percentile ("ci95") and BCa ("ci95_bca", jackknife acceleration).
    With raters="random" the bootstrap resamples the raters too (two-way: readers random).
    """
    if n_boot < 0:
        raise ValueError("n_boot must be >= 0")
    if raters not in RATERS:
        raise ValueError(f"raters must be one of {RATERS}")
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
    replicates, jackknife = _replicates(*boot, raters=raters), _replicates(*boot, jackknife=True, raters=raters)
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
        "fleiss_kappa_ratings_per_case": _ratings_per_case(m),
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
        "case_sets": case_sets(m, categorical=categorical),
    } | extra


# --- the pre-specified primary metric and the interval methods -------------------------------

# Each primary metric (annotation/analysis_plan.py names them) as read from a score's summary:
# its entry, and the key of the value in it.
PRIMARY_METRIC_ENTRIES: dict[str, tuple[tuple[str, ...], str]] = {
    "krippendorff_alpha": (("krippendorff_alpha", "interval"), "value"),
    "krippendorff_alpha_ordinal": (("krippendorff_alpha", "ordinal"), "value"),
    "icc_2_1": (("icc", "ICC2_1"), "value"),
    "icc_2_k": (("icc", "ICC2_k"), "value"),
    "icc_1_1": (("icc", "ICC1_1"), "value"),
    "icc_3_1": (("icc", "ICC3_1"), "value"),
    "weighted_kappa": (("weighted_kappa",), "mean"),
    "gwet_ac1": (("gwet_ac1",), "value"),
    "gwet_ac2": (("gwet_ac2",), "value"),
    "lin_ccc": (("lin_ccc",), "value"),
}
_PRIMARY_CASES = {"krippendorff": "krippendorff_alpha", "icc": "icc", "gwet": "gwet_ac1_ac2"}


def primary_result(*, metric: str, score: str, summary: dict) -> dict:
    """The pre-specified primary metric's value, CI and cases from a score's summary (JSON-ready)."""
    path, value_key = PRIMARY_METRIC_ENTRIES[metric]
    entry = summary
    for part in path:
        entry = entry[part]
    cases = summary["case_sets"][next((v for k, v in _PRIMARY_CASES.items() if metric.startswith(k)), metric)]
    n_cases = entry.get("n_cases", cases["n_cases"])  # an ICC, CCC or AC entry names its own cases
    out = {"metric": metric, "score": score, "pre_specified": True, "n_cases": n_cases}
    value = entry.get(value_key)
    extra = {"reason": entry["reason"]} if entry.get("reason") else {}
    return out | {"value": value, "ci95": entry.get("ci95"), "ci95_bca": entry.get("ci95_bca")} | extra


def ci_methods(*, raters: str, unit: str) -> dict[str, str]:
    """Which method gave each statistic's 95% CI, in words. Only alpha and the mean kappa are
    bootstrapped (percentile "ci95", BCa "ci95_bca"), so only they follow the resampling choice; the
    others keep their analytic or jackknife intervals, whose assumptions about the raters are stated."""
    what = "patients with all their cases" if unit == "patient" else "cases"
    boot = f"bootstrap over {what}" + (" and raters (two-way: readers random)" if raters == "random" else "")
    return {
        "krippendorff_alpha": f"{boot}: percentile (ci95) and BCa (ci95_bca)",
        "weighted_kappa": f"{boot}: percentile (ci95) and BCa (ci95_bca), of the mean over rater pairs",
        "icc": "F distribution (Shrout & Fleiss 1979, McGraw & Wong 1996): ICC(2,.) treats raters as random, "
        "ICC(3,.) as fixed; none for REML two-way ICCs",
        "gwet_ac1_ac2": "Gwet's standard error conditional on the raters (raters fixed), t with n - 1 df",
        "lin_ccc": "two raters: Lin's Z transform (raters fixed); three or more: jackknife over cases on the Z scale",
        "bland_altman": "Bland & Altman 1999: SE of a limit sqrt(3 s^2 / n), t with n - 1 df",
        "fleiss_kappa": "none",
        "variance_components": "none",
    }
