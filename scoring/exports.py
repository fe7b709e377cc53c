"""Exports of what is computed from the ratings and the model: consensus, the per-case means in the
published covid-severity format, predictions. Every column says which value it is."""

import io

from annotation.models import Study
from annotation.rubrics import rubric_get
from core.errors import StateConflict
from core.spreadsheet import safe_writer
from scoring.consensus import consensus_mean, round_published
from scoring.selectors import study_consensus, study_exclusion_reasons, study_predictions, study_score_table


def consensus_csv(*, study: Study, blind: bool = False) -> str:
    """One case a line: the consensus of the raters' current totals, their range, the adjudicated
    score where there is one, and the final value (adjudicated, else the consensus), with
    `final_source` saying which. Excluded cases are listed too, marked (excluded, exclusion_reason):
    they are in no analysis and never wait for adjudication. `blind` (for a blind adjudicator)
    leaves the image column empty: the case id is all they know a case by."""
    totals = study.rubric_definition.total_keys
    reasons = study_exclusion_reasons(study=study)
    out = io.StringIO()
    writer = safe_writer(out, lineterminator="\n")
    header = ["image", "case_id", "n_raters"]
    for key in totals:
        header += [f"{key}_consensus_{study.consensus_method}", f"{key}_range", f"{key}_adjudicated", f"{key}_final"]
    writer.writerow([*header, "final_source", "needs_adjudication", "excluded", "exclusion_reason"])
    for row in study_consensus(study=study, include_excluded=True):
        cells = ["" if blind else row.filename, row.public_id, row.n_raters]
        for key in totals:
            adjudicated = row.adjudicated.get(key) if row.adjudicated else None
            cells += [_fmt(row.consensus[key]), _fmt(row.spread[key]), _fmt(adjudicated), _fmt(row.final[key])]
        flags = ["yes" if row.needs_adjudication else "no", 1 if row.excluded else 0, reasons.get(row.case_id, "")]
        writer.writerow([*cells, row.final_source, *flags])
    return out.getvalue()


def _fmt(value) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def predictions_csv(*, study: Study) -> str:
    """filename,model_version,<target>,...,<target>_low,<target>_high,...,interval_level: every stored
    prediction of the study with its conformal prediction interval (empty where the version has none)."""
    targets = study.rubric_definition.total_keys
    out = io.StringIO()
    writer = safe_writer(out, lineterminator="\n")
    bounds = [f"{t}_{end}" for t in targets for end in ("low", "high")]
    writer.writerow(["filename", "model_version", *targets, *bounds, "interval_level"])
    for filename, number, values, intervals, version_intervals in study_predictions(study=study):
        ends = [(intervals.get(t) or ["", ""])[i] for t in targets for i in (0, 1)]
        level = (version_intervals or {}).get("level", "") if intervals else ""
        writer.writerow([filename, number, *(values.get(t, "") for t in targets), *ends, level])
    return out.getvalue()


class ScoresFormatError(StateConflict):
    """The study's rubric has no totals for this format."""

    code = "export_unavailable"


COVID_SEVERITY_TOTALS = {"geographic": "geographic_extent", "opacity": "opacity"}


def covid_severity_format_fits(*, study: Study) -> bool:
    """Whether the study's rubric has the two totals of the published format (cohen2020, ralo)."""
    return set(COVID_SEVERITY_TOTALS.values()) <= set(rubric_get(study.rubric).total_keys)


def scores_covid_severity_export(*, study: Study) -> str:
    """filename,geographic_mean,opacity_mean as in the published covid-severity-scores.csv: the mean
    of the raters' current totals per case, rounded half up to one decimal; then the final value of
    each (geographic_final, opacity_final: the adjudicated score where there is one, else the
    consensus) and `final_source`, "adjudicated" or "consensus". Excluded cases are left out, as are
    the reads of a removed rater the owner did not keep (the cases and reads of the analysis)."""
    rubric = rubric_get(study.rubric)
    if not covid_severity_format_fits(study=study):
        raise ScoresFormatError(
            f"the covid-severity format needs geographic extent and opacity totals; rubric {rubric.key} has "
            f"{', '.join(rubric.total_keys)}"
        )
    table = study_score_table(study=study)
    finals = {row.case_id: row for row in study_consensus(study=study, table=table)}
    out = io.StringIO()
    writer = safe_writer(out, lineterminator="\n")
    names = list(COVID_SEVERITY_TOTALS)
    writer.writerow(
        ["filename", *(f"{name}_mean" for name in names), *(f"{name}_final" for name in names), "final_source"]
    )
    for i in sorted(range(len(table.case_ids)), key=lambda i: table.filenames[i]):
        final = finals[table.case_ids[i]]
        means = [_published_mean(table.matrices[key][i]) for key in COVID_SEVERITY_TOTALS.values()]
        final_values = [_published(final.final[key]) for key in COVID_SEVERITY_TOTALS.values()]
        writer.writerow([table.filenames[i], *means, *final_values, final.final_source])
    return out.getvalue()


def _published_mean(row) -> str:
    return round_published(consensus_mean([float(value) for value in row if value == value]))  # NaN: no rating


def _published(value: float | None) -> str:
    return "" if value is None else round_published(value)
