"""Consensus per case as CSV; every column says which value it is."""

import csv
import io

from annotation.models import Study
from scoring.selectors import study_consensus


def consensus_csv(*, study: Study) -> str:
    totals = study.rubric_definition.total_keys
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
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
    from scoring.selectors import study_predictions

    targets = study.rubric_definition.total_keys
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["filename", "model_version", *targets])
    for filename, number, values in study_predictions(study=study):
        writer.writerow([filename, number, *(values.get(t, "") for t in targets)])
    return out.getvalue()
