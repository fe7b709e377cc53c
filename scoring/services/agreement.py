"""Connects the pure statistics to the database: build, cache and serve agreement reports."""

import logging

import numpy as np
from django.db import IntegrityError, transaction

from annotation.models import Study
from annotation.selectors import study_assignments_in_analysis
from core.jobs import job_claim, job_dispatch, job_finish, job_progress
from scoring import plots
from scoring.models import DEFAULT_BOOTSTRAP, AgreementReport, Prediction
from scoring.selectors import (
    ScoreTable,
    agreement_report_key,
    study_consensus,
    study_repeat_pairs,
    study_score_table,
)

logger = logging.getLogger(__name__)


def _domain(table: ScoreTable, key: str) -> tuple[int, int]:
    rubric = table.rubric
    if key in rubric.total_keys:
        total = next(t for t in rubric.totals if t.key == key)
        return total.minimum, total.maximum
    item = rubric.item(key)
    return item.minimum, item.maximum


def _bootstrap_clusters(table: ScoreTable) -> list[str] | None:
    """Patient ids as resampling units when some patient has several cases (serial images); a case
    without a patient id is its own unit. None (cases resampled) otherwise, which keeps the numbers of
    studies without serial images exactly as before."""
    pairs = zip(table.patient_ids, table.case_ids, strict=True)
    units = [f"patient:{pid}" if pid else f"case:{case}" for pid, case in pairs]
    return units if len(set(units)) < len(units) else None


def agreement_report_build(
    *,
    study: Study,
    table: ScoreTable,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    progress=None,
    cutoffs: dict[str, list[float]] | None = None,
    raters: str | None = None,
) -> dict:
    """The report as JSON-ready data: every total and every item, plus consensus and adjudication;
    with `cutoffs` ({score key: [cut-off, ...]}), agreement on "score >= cut-off" for those scores.
    raters="random": the bootstrap resamples the raters as well as the cases (two-way), for
    intervals that generalise to readers at large; "fixed": about these readers; None (the
    default): the study's setting (Study.bootstrap_raters)."""
    from scoring.agreement import agreement_summary  # NumPy/SciPy/krippendorff: load on first use
    from scoring.agreement.summary import ci_methods

    raters = raters or study.bootstrap_raters
    keys = [*table.rubric.total_keys, *table.rubric.item_keys]
    if progress:
        progress(0, len(keys))  # the page says "0 of N" from the start, not "computing" with no total
    scores = {}
    clusters = _bootstrap_clusters(table) if table.patient_ids else None
    for done, key in enumerate(keys, start=1):
        low, high = _domain(table, key)
        scores[key] = agreement_summary(
            table.matrices[key],
            table.raters,
            domain=list(range(low, high + 1)),
            categorical=key in table.rubric.item_keys,
            n_boot=n_boot,
            seed=seed,
            cutoffs=(cutoffs or {}).get(key),
            clusters=clusters,
            raters=raters,
        )
        if progress:
            progress(done, len(keys))
    _intra_rater(study, scores, n_boot=n_boot, seed=seed)
    consensus = study_consensus(study=study, table=table)
    extras = {
        "model": _model_vs_consensus(study, table, consensus),
        "reading_conditions": _reading_conditions(study, consensus)
        if study.model_assistance == Study.ModelAssistance.CROSSOVER
        else None,
    }
    unit = "patient" if clusters else "case"
    return {
        "study": study.slug,
        "primary": _primary(study, scores),
        "rubric": table.rubric.key,
        "n_cases": len(table.case_ids),
        "n_raters": len(table.raters),
        "n_ratings": table.n_ratings,
        "scores": scores,
        "consensus_method": study.consensus_method,
        "adjudication": {
            "range": study.adjudication_range,
            "pending": sum(1 for row in consensus if row.needs_adjudication),
            "adjudicated": sum(1 for row in consensus if row.adjudicated),
        },
        "bootstrap": {
            "resamples": n_boot,
            "seed": seed,
            "unit": unit,
            "n_units": len(set(clusters)) if clusters else len(table.case_ids),
            "raters": raters,
            "resampling": f"{unit}s" + ("_and_raters" if raters == "random" else ""),
            "interval_methods": {"ci95": "percentile", "ci95_bca": "BCa (jackknife acceleration)"},
        },
        "ci_methods": ci_methods(raters=raters, unit=unit),
        "conditional_items": _conditional_items(table),
        **extras,
    }


NO_REPEAT_READS = "the study has no repeat reads (its repeat fraction is 0)"


def _intra_rater(study: Study, scores: dict, *, n_boot: int, seed: int) -> None:
    """Each total's intra-rater reliability from the raters' repeat reads (scoring.agreement.
    intra_rater), under "intra_rater"; a study without repeat reads says so."""
    from scoring.agreement.intra_rater import intra_rater_reliability  # NumPy/SciPy: on first use

    pairs = study_repeat_pairs(study=study)
    for key, by_rater in pairs.items():
        if key not in scores:
            continue
        if not study.repeat_fraction and not by_rater:
            scores[key]["intra_rater"] = {"raters": {}, "pooled": None, "reason": NO_REPEAT_READS}
        else:
            scores[key]["intra_rater"] = intra_rater_reliability(by_rater, n_boot=n_boot, seed=seed)


NO_PRIMARY = "no primary metric was pre-specified for this study: every statistic below is secondary"


def _primary(study: Study, scores: dict) -> dict:
    """The study's pre-specified primary metric (fixed before it opened), read from its score's summary."""
    from scoring.agreement.summary import primary_result

    if not study.primary_metric or study.primary_score not in scores:
        empty = dict.fromkeys(("metric", "score", "value", "ci95", "n_cases"))
        return empty | {"pre_specified": False, "reason": NO_PRIMARY}
    return primary_result(metric=study.primary_metric, score=study.primary_score, summary=scores[study.primary_score])


def _conditional_items(table: ScoreTable) -> dict[str, str]:
    """Items scored only when another is above zero (RALE's density, Warren et al. 2018): their
    agreement is conditional on it, which the report says."""
    return {
        item.key: f"scored only where {item.requires_positive} > 0: its agreement is among the raters who saw "
        f"consolidation there (the extent item and the total carry the disagreement about whether there is any)"
        for item in table.rubric.items
        if item.requires_positive
    }


def _finite_or_none(value) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def _paired_stats(truth: np.ndarray, other: np.ndarray) -> dict:
    """MAE, Pearson r and Bland-Altman of `other` against `truth` (None where undefined)."""
    n = len(truth)
    out = {"n": n, "mae": None, "pearson_r": None, "mean_diff": None, "loa": None}
    if n == 0:
        return out
    diff = other - truth
    out["mae"] = _finite_or_none(np.abs(diff).mean())
    out["mean_diff"] = _finite_or_none(diff.mean())
    if n >= 2:
        sd = diff.std(ddof=1)
        out["loa"] = [_finite_or_none(out["mean_diff"] - 1.96 * sd), _finite_or_none(out["mean_diff"] + 1.96 * sd)]
    if n >= 3 and truth.std() > 0 and other.std() > 0:
        out["pearson_r"] = _finite_or_none(np.corrcoef(truth, other)[0, 1])
    return out


def _model_vs_consensus(study: Study, table: ScoreTable, consensus: list) -> dict | None:
    """The active model against the final consensus, and alpha with the model as one more rater."""
    from scoring.agreement import Undefined, krippendorff_alpha  # NumPy/SciPy/krippendorff: on first use

    active = study.model_versions.filter(is_active=True).first()
    if active is None:
        return None
    predicted = dict(
        Prediction.objects.filter(model_version=active, case_id__in=table.case_ids).values_list("case_id", "values")
    )
    if not predicted:
        return {"version": active.number, "n_cases": 0, "scores": {}}
    scores = {}
    for key in table.rubric.total_keys:
        rows = [(row.final[key], predicted[row.case_id].get(key)) for row in consensus if row.case_id in predicted]
        rows = [(truth, value) for truth, value in rows if truth is not None and value is not None]
        truth, model = (np.array([r[i] for r in rows], dtype=float) for i in (0, 1))
        column = np.array([predicted.get(case_id, {}).get(key, np.nan) for case_id in table.case_ids], dtype=float)
        alpha = krippendorff_alpha(np.column_stack([table.matrices[key], column]), level="interval", domain=None)
        scores[key] = {
            **_paired_stats(truth, model),
            "alpha_with_model": None if isinstance(alpha, Undefined) else float(alpha),
            "alpha_raters_only": _alpha_value(table.matrices[key]),
        }
    return {"version": active.number, "n_cases": len(predicted), "scores": scores}


def _alpha_value(matrix: np.ndarray) -> float | None:
    from scoring.agreement import Undefined, krippendorff_alpha

    alpha = krippendorff_alpha(matrix, level="interval", domain=None)
    return None if isinstance(alpha, Undefined) else float(alpha)


CONDITIONS = (("unaided", False), ("aided", True))
NEEDS_READERS = "needs two or more readers who each read two or more of the cases in both conditions"


def _reading_conditions(study: Study, consensus: list) -> dict:
    """Crossover: the unaided and aided reads of the same cases by the same raters, each
    condition's agreement and reading time, and the aided-minus-unaided comparison: the MAE of
    each read against a reference that never contains the reader's own read (the adjudicated
    value, else the consensus of the other readers' unaided reads) and the reading time, each in
    an Obuchowski-Rockette analysis with Hillis' ddf (scoring.agreement.mrmc), readers and cases
    random, paired by reader and case."""
    from scoring.agreement.mrmc import crossover_errors  # NumPy/SciPy: on first use

    tables = {name: study_score_table(study=study, aided=aided) for name, aided in CONDITIONS}
    cases = sorted({*tables["unaided"].case_ids, *tables["aided"].case_ids})
    raters = sorted({*tables["unaided"].raters, *tables["aided"].raters})
    adjudicated = {row.case_id: row.adjudicated for row in consensus if row.adjudicated}
    combine = "median" if study.consensus_method == Study.Consensus.MEDIAN else "mean"
    comparison = {}
    for key in tables["unaided"].rubric.total_keys:
        unaided, aided = (_aligned(tables[name], key, cases, raters) for name, _ in CONDITIONS)
        reference = np.array([_number((adjudicated.get(case_id) or {}).get(key)) for case_id in cases])
        errors = crossover_errors(unaided=unaided, aided=aided, adjudicated=reference, combine=combine)
        comparison[key] = _comparison(errors, raters, "mae_vs_reference")
    times = _reading_times(study)
    seconds = np.full((2, len(raters), len(cases)), np.nan)
    for i, (_, aided) in enumerate(CONDITIONS):
        for j, rater in enumerate(raters):
            seconds[i, j] = [times.get((case_id, rater, aided), np.nan) for case_id in cases]
    comparison["reading_time_s"] = _comparison(seconds, raters, "mean_reading_time_s")
    out = {}
    for name, aided in CONDITIONS:
        table = tables[name]
        condition_times = [t for (_, _, a), t in times.items() if a == aided]
        out[name] = {
            "n_reads": table.n_ratings,
            "mean_reading_time_s": _finite_or_none(np.mean(condition_times)) if condition_times else None,
            "scores": {
                key: {"alpha_interval": _alpha_value(table.matrices[key]), "mae_vs_reference": comparison[key][name]}
                for key in table.rubric.total_keys
            },
        }
    out["comparison"] = comparison
    return out


def _number(value) -> float:
    return np.nan if value is None else float(value)


def _aligned(table: ScoreTable, key: str, cases: list[int], raters: list[str]) -> np.ndarray:
    """The table's matrix for `key` on the given cases x raters (NaN where the table has none)."""
    out = np.full((len(cases), len(raters)), np.nan)
    case_index = {case_id: i for i, case_id in enumerate(cases)}
    rows = [case_index[case_id] for case_id in table.case_ids]
    columns = [raters.index(name) for name in table.raters]
    out[np.ix_(rows, columns)] = table.matrices[key]
    return out


def _reading_times(study: Study) -> dict[tuple[int, str, bool], float]:
    """(case id, rater, aided) -> the current rating's reading time, where one was recorded."""
    rows = (
        study_assignments_in_analysis(study=study)
        .filter(current_rating__isnull=False, current_rating__reading_time_s__isnull=False)
        .values_list("case_id", "rater__username", "aided", "current_rating__reading_time_s")
    )
    return {(case_id, rater, aided): float(seconds) for case_id, rater, aided, seconds in rows}


def _comparison(values: np.ndarray, raters: list[str], figure_of_merit: str) -> dict:
    """The OR-Hillis comparison of a mean figure of merit (2 conditions x raters x cases, NaN where
    not scored) as the report's JSON, per reader and averaged over readers."""
    from scoring.agreement.mrmc import or_hillis_mean, paired_reads, usable_readers

    keep = usable_readers(values)
    entry = {
        "figure_of_merit": figure_of_merit,
        **dict.fromkeys(("unaided", "aided", "difference", "ci95", "p_value", "df")),
        "readers": {},
        "n_readers": int(keep.sum()),
        "n_cases": 0,
    }
    if keep.sum() < 2:
        return {**entry, "reason": NEEDS_READERS}
    result = or_hillis_mean(values[:, keep])
    counts = (~np.isnan(paired_reads(values[:, keep])[0])).sum(axis=-1)
    names = [name for name, kept in zip(raters, keep, strict=True) if kept]
    readers = {
        name: {
            "unaided": _finite_or_none(r.first),
            "aided": _finite_or_none(r.second),
            "difference": _finite_or_none(r.difference),
            "ci95": [_finite_or_none(r.ci95[0]), _finite_or_none(r.ci95[1])],
            "p_value": _finite_or_none(r.p_value),
            "n_cases": int(n),
        }
        for name, r, n in zip(names, result.readers, counts, strict=True)
    }
    return {
        **entry,
        "unaided": _finite_or_none(result.means[0]),
        "aided": _finite_or_none(result.means[1]),
        "difference": _finite_or_none(result.difference),
        "ci95": [_finite_or_none(result.ci95[0]), _finite_or_none(result.ci95[1])],
        "p_value": _finite_or_none(result.p_value),
        "df": _finite_or_none(result.df),
        "readers": readers,
        "n_cases": result.n_cases,
    }


def agreement_report_plots(*, table: ScoreTable, data: dict) -> dict[str, str]:
    """SVG figures for each rubric total, drawn once per cached report."""
    out = {}
    for key in table.rubric.total_keys:
        matrix, domain = table.matrices[key], _domain(table, key)
        label = next(t.label for t in table.rubric.totals if t.key == key)
        figures = {
            "bland_altman": plots.bland_altman_svg(matrix, table.raters, label),
            "scatter": plots.pairwise_scatter_svg(matrix, table.raters, label, domain),
            "kappa": plots.kappa_heatmap_svg(data["scores"][key]["weighted_kappa"]["pairs"], table.raters, label),
            "distribution": plots.distribution_svg(matrix, table.raters, label, domain),
        }
        out.update({f"{key}:{name}": svg for name, svg in figures.items() if svg})
    return out


def agreement_report_request(*, study: Study, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> AgreementReport:
    """The report for the study's current ratings: the one computed or queued already, else a new
    one queued for a worker (asked for by a POST, never by a page view)."""
    key = agreement_report_key(study=study, n_boot=n_boot, seed=seed)
    report = AgreementReport.objects.filter(**key).first()
    if report:
        return report
    try:
        with transaction.atomic():
            report = AgreementReport.objects.create(**key)
            job_dispatch(job=report)
    except IntegrityError:  # requested at the same moment by someone else
        return AgreementReport.objects.get(**key)
    return report


def agreement_report_execute(*, report_id: int) -> AgreementReport | None:
    """Compute a queued report. Claimed with a conditional update, so a redelivered task is a no-op."""
    report = job_claim(model=AgreementReport, pk=report_id, select_related=("study",))
    if report is None:
        return None

    def progress(done: int, total: int) -> None:
        job_progress(job=report, done=done, total=total)

    try:
        table = study_score_table(study=report.study)
        data = agreement_report_build(
            study=report.study, table=table, n_boot=report.n_boot, seed=report.seed, progress=progress
        )
        report.plots = agreement_report_plots(table=table, data=data)
        report.data = data
    except Exception as exc:  # shown on the page; the traceback goes to the worker's log
        logger.exception("agreement report %s failed", report_id)
        return job_finish(job=report, error=f"{type(exc).__name__}: {exc}")
    return job_finish(job=report, fields=("plots", "data"))
