"""Exports of what is computed from the ratings and the model: consensus, the per-case means in the
published covid-severity format, predictions. Every column says which value it is."""

import io

from annotation.models import Study
from annotation.rubrics import rubric_get
from annotation.selectors import study_completed_assignments, study_main_reads_aided
from core.errors import StateConflict
from core.spreadsheet import safe_writer
from scoring.consensus import consensus_mean, round_published
from scoring.selectors import study_consensus, study_predictions


def consensus_csv(*, study: Study) -> str:
    totals = study.rubric_definition.total_keys
    out = io.StringIO()
    writer = safe_writer(out, lineterminator="\n")
    header = ["image", "case_id", "n_raters"]
    for key in totals:
        header += [f"{key}_consensus_{study.consensus_method}", f"{key}_range", f"{key}_adjudicated", f"{key}_final"]
    writer.writerow([*header, "final_source", "needs_adjudication"])
    for row in study_consensus(study=study):
        cells = [row.filename, row.public_id, row.n_raters]
        for key in totals:
            adjudicated = row.adjudicated.get(key) if row.adjudicated else None
            cells += [_fmt(row.consensus[key]), _fmt(row.spread[key]), _fmt(adjudicated), _fmt(row.final[key])]
        writer.writerow([*cells, row.final_source, "yes" if row.needs_adjudication else "no"])
    return out.getvalue()


def _fmt(value) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def predictions_csv(*, study: Study) -> str:
    """filename,model_version,<target>,...: every stored prediction of the study."""
    targets = study.rubric_definition.total_keys
    out = io.StringIO()
    writer = safe_writer(out, lineterminator="\n")
    writer.writerow(["filename", "model_version", *targets])
    for filename, number, values in study_predictions(study=study):
        writer.writerow([filename, number, *(values.get(t, "") for t in targets)])
    return out.getvalue()


class ScoresFormatError(StateConflict):
    """The study's rubric has no totals for this format."""

    code = "export_unavailable"


def scores_covid_severity_export(*, study: Study) -> str:
    """filename,geographic_mean,opacity_mean: the mean of the raters' current totals per case,
    rounded half up to one decimal, as in the published covid-severity-scores.csv."""
    rubric = rubric_get(study.rubric)
    if not {"geographic_extent", "opacity"} <= set(rubric.total_keys):
        raise ScoresFormatError(
            f"the covid-severity format needs geographic extent and opacity totals; rubric {rubric.key} has "
            f"{', '.join(rubric.total_keys)}"
        )
    per_case: dict[str, dict[str, list[int]]] = {}
    main = study_completed_assignments(study=study).filter(
        current_rating__isnull=False, aided=study_main_reads_aided(study)
    )
    for assignment in main:
        totals = per_case.setdefault(assignment.case.original_filename, {"geographic_extent": [], "opacity": []})
        for key in totals:
            totals[key].append(assignment.current_rating.totals[key])
    out = io.StringIO()
    writer = safe_writer(out, lineterminator="\n")
    writer.writerow(["filename", "geographic_mean", "opacity_mean"])
    for filename in sorted(per_case):
        totals = per_case[filename]
        writer.writerow(
            [
                filename,
                round_published(consensus_mean(totals["geographic_extent"])),
                round_published(consensus_mean(totals["opacity"])),
            ]
        )
    return out.getvalue()
