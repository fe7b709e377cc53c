"""A study's scores out as DICOM structured reports (scoring/dicom_sr.py): a zip, or STOW-RS to an archive.

Per case with scores: the final value (the adjudicated totals where there is an adjudication, else the
consensus of the raters' current totals) and, if asked, one report per rater with their items and
totals. Only cases whose image came from a DICOM file can be reported on: a report must name the
instance it is about. Excluded cases are left out, as they are of every analysis.
"""

import io
import logging
import math
import re
import warnings
import zipfile
from dataclasses import dataclass, field

import pydicom
from pydicom.dataset import Dataset

from annotation.audit import audit_export
from annotation.models import Case, Study
from annotation.services.dicomweb import Archive, dicomweb_store
from scoring.dicom_sr import Scores, sr_document, uid_derived
from scoring.selectors import ScoreTable, study_consensus, study_rater_labels_by_name, study_score_table

logger = logging.getLogger(__name__)

CONSENSUS_OBSERVER = "CXR severity consensus"


@dataclass
class SrExport:
    documents: list[tuple[str, Dataset]] = field(default_factory=list)  # (file name in the zip, document)
    skipped: list[str] = field(default_factory=list)  # why a case with scores has no report, one line each


def study_sr_export(*, study: Study, per_rater: bool = False, blind: bool = False) -> SrExport:
    """The reports of the study's scored cases. `blind`: raters named by their study labels ("Rater A"),
    as whoever takes the export sees them (annotation.permissions.reads_cases_blind)."""
    table = study_score_table(study=study)
    consensus = {row.case_id: row for row in study_consensus(study=study, table=table)}
    names = study_rater_labels_by_name(study=study) if blind else {name: name for name in table.raters}
    cases = Case.objects.filter(pk__in=table.case_ids).select_related("image").in_bulk()
    export = SrExport()
    for index, case_id in enumerate(table.case_ids):
        case = cases[case_id]
        evidence = _evidence(case)
        if evidence is None:
            export.skipped.append(f"{case.public_id}: not from a DICOM file, so there is no instance to refer to")
            continue
        final = consensus[case_id]
        source = "adjudicated" if final.adjudicated else study.consensus_method  # "mean" or "median"
        documents = [Scores(source=source, values=final.final, observer=CONSENSUS_OBSERVER, n_raters=final.n_raters)]
        if per_rater:
            documents += _rater_scores(table=table, row=index, names=names)
        for scores in documents:
            export.documents.append(_document(study=study, case=case, evidence=evidence, scores=scores))
    return export


def _rater_scores(*, table: ScoreTable, row: int, names: dict[str, str]) -> list[Scores]:
    """Each rater's current items and totals on one case (raters without a rating of it left out)."""
    keys = [*table.rubric.item_keys, *table.rubric.total_keys]
    out = []
    for column, rater in enumerate(table.raters):
        values = {key: _number(table.matrices[key][row, column]) for key in keys}
        if values[table.rubric.total_keys[0]] is not None:
            out.append(Scores(source="rater", values=values, observer=names.get(rater, rater)))
    return out


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _document(*, study: Study, case: Case, evidence: Dataset, scores: Scores) -> tuple[str, Dataset]:
    # The same scores give the same UIDs on every export: sent twice, a report replaces itself.
    content = sorted((key, value) for key, value in scores.values.items() if value is not None)
    instance_uid = uid_derived("sr", case.public_id, scores.source, scores.observer, content, scores.n_raters)
    document = sr_document(
        evidence=evidence,
        rubric=study.rubric_definition,
        scores=scores,
        tracking_id=f"case {case.public_id}",
        series_uid=uid_derived("series", study.slug, evidence.StudyInstanceUID),
        instance_uid=instance_uid,
        instance_number=case.pk,
    )
    who = "final" if scores.source != "rater" else re.sub(r"[^A-Za-z0-9._-]+", "-", scores.observer)
    return f"{case.public_id}/{who}.dcm", document


def _evidence(case: Case) -> Dataset | None:
    """The header of the case's original DICOM file (pixels not read), or None."""
    if not case.dicom_sop_instance_uid or case.image is None or case.image.source_format != "dicom":
        return None
    try:
        with case.image.original.open("rb") as handle, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's warnings may quote tag values
            header = pydicom.dcmread(handle, stop_before_pixels=True)
    except (OSError, pydicom.errors.InvalidDicomError):
        logger.exception("the original of case %s cannot be read", case.public_id)
        return None
    if str(header.get("SOPInstanceUID", "")) != case.dicom_sop_instance_uid:
        return None
    return header


def sr_zip(*, export: SrExport) -> bytes:
    """The reports as a zip of DICOM files, one folder per case."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, document in export.documents:
            buffer = io.BytesIO()
            document.save_as(buffer, enforce_file_format=True)
            archive.writestr(name, buffer.getvalue())
    return out.getvalue()


def study_sr_send(*, study: Study, export: SrExport, archive: Archive, actor=None) -> int:
    """Store the reports in the archive (STOW-RS) and record the export; returns how many were stored."""
    stored = dicomweb_store(archive=archive, datasets=[document for _, document in export.documents])
    audit_export(study=study, actor=actor, export=f"DICOM SR ({stored} reports)", via=f"DICOMweb {archive.shown}")
    return stored


def study_sr_written(*, study: Study, export: SrExport, actor=None, via: str = "command line") -> bytes:
    """The zip of the reports, the export recorded."""
    data = sr_zip(export=export)
    audit_export(study=study, actor=actor, export=f"DICOM SR zip ({len(export.documents)} reports)", via=via)
    return data
