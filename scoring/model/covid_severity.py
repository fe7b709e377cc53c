"""Read the published covid-severity files: the scores CSV and the collection's metadata.csv."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

# Column in covid-severity-scores.csv -> our target name.
SCORE_COLUMNS = {"geographic_mean": "geographic_extent", "opacity_mean": "opacity"}


class ScoresFileError(Exception):
    """The file is not in the published format; str(exc) says what is wrong."""


@dataclass(frozen=True)
class ScoredImage:
    filename: str
    scores: dict[str, float]  # target -> mean of the raters


def read_scores(path: Path) -> list[ScoredImage]:
    """Rows of covid-severity-scores.csv; its leading `##` lines are comments."""
    with open(path, newline="", encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("##")]
    reader = csv.DictReader(lines)
    missing = {"filename", *SCORE_COLUMNS} - set(reader.fieldnames or [])
    if missing:
        raise ScoresFileError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    images = []
    for index, row in enumerate(reader, start=1):
        try:
            scores = {target: float(row[column]) for column, target in SCORE_COLUMNS.items()}
        except (TypeError, ValueError):
            raise ScoresFileError(
                f"{path}: data row {index} ({row.get('filename')!r}) has a non-numeric score"
            ) from None
        images.append(ScoredImage(filename=row["filename"].strip(), scores=scores))
    return images


def read_patient_ids(path: Path) -> dict[str, str | None]:
    """filename -> patientid from metadata.csv (None where blank)."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"filename", "patientid"} <= set(reader.fieldnames or []):
            raise ScoresFileError(f"{path}: needs the columns filename and patientid")
        return {row["filename"].strip(): (row["patientid"] or "").strip() or None for row in reader}
