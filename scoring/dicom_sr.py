"""A case's severity scores as a DICOM Comprehensive SR: a TID 1500 measurement report, built with highdicom.

Pure: no Django. The document refers to the scored image (its SOP instance, in the measurement group's
source images and in the evidence), so that a PACS or OHIF shows it with the image. The codes are
listed in docs/dicom.md: the rubric's items and totals have no standard codes, so they are private
codes of the scheme PRIVATE_SCHEME ("99" starts a private coding scheme designator, DICOM PS3.16 8.2),
with the lung and its laterality as SNOMED CT finding sites.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from highdicom.sr import (
    CodedConcept,
    ComprehensiveSR,
    DeviceObserverIdentifyingAttributes,
    FindingSite,
    Measurement,
    MeasurementReport,
    MeasurementsAndQualitativeEvaluations,
    ObservationContext,
    ObserverContext,
    PersonObserverIdentifyingAttributes,
    QualitativeEvaluation,
    SourceImageForMeasurementGroup,
    TrackingIdentifier,
)
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from annotation.rubrics import Rubric

PRIVATE_SCHEME = "99CXRSEV"
# DICOM code values are at most 16 characters: the few longer keys get a shorter code.
SHORT_CODES = {"geographic_extent": "extent_total"}
SCORE_UNIT = CodedConcept("{score}", "UCUM", "score")
COUNT_UNIT = CodedConcept("{raters}", "UCUM", "raters")
RATER_COUNT = CodedConcept("raters", PRIVATE_SCHEME, "Number of raters")
SCORE_SOURCE = CodedConcept("score_source", PRIVATE_SCHEME, "Source of the scores")
SOURCES = {
    "rater": CodedConcept("rater", PRIVATE_SCHEME, "One rater's current scores"),
    "mean": CodedConcept("consensus_mean", PRIVATE_SCHEME, "Consensus: mean of the raters' totals"),
    "median": CodedConcept("consensus_median", PRIVATE_SCHEME, "Consensus: median of the raters' totals"),
    "adjudicated": CodedConcept("adjudicated", PRIVATE_SCHEME, "Adjudicated final score"),
}
# SNOMED CT: the lung, and the laterality of an item by the group the rubric puts it in.
LUNG = CodedConcept("39607008", "SCT", "Lung")
LATERALITY = {
    "Right lung": CodedConcept("24028007", "SCT", "Right"),
    "Left lung": CodedConcept("7771000", "SCT", "Left"),
}
BOTH_SIDES = CodedConcept("51440002", "SCT", "Right and left")
PLAIN_CHEST_XRAY = CodedConcept("399208008", "SCT", "Plain chest X-ray")
# The namespace of the UIDs derived here (uuid5: the same document gets the same UID on every export).
UID_NAMESPACE = uuid.UUID("6f1c0a52-3c1e-4a55-9b7e-2f5d0c7a9e11")
SERIES_NUMBER = 990
MANUFACTURER = "cxr-severity"


@dataclass(frozen=True)
class Scores:
    """What one document reports: a rater's scores (items and totals) or a case's final totals."""

    source: str  # a key of SOURCES
    values: Mapping[str, float | None]  # item and total keys -> value (None: not scored)
    observer: str  # a rater's name or label; for a consensus, the platform's name
    n_raters: int | None = None  # for a consensus or an adjudication


def uid_derived(*parts: object) -> str:
    """A UID (2.25 form, from a UUID) that is the same whenever `parts` are."""
    return f"2.25.{uuid.uuid5(UID_NAMESPACE, '|'.join(str(part) for part in parts)).int}"


def code_of(rubric: Rubric, key: str) -> CodedConcept:
    """The concept of an item or total of the rubric (code value: the key, or its short form)."""
    labels = {item.key: item.label for item in rubric.items} | {total.key: total.label for total in rubric.totals}
    return CodedConcept(SHORT_CODES.get(key, key), PRIVATE_SCHEME, labels[key][:64])


def rubric_code(rubric: Rubric) -> CodedConcept:
    """The rubric, as the measurement method ("rubric_" first: a total may share the rubric's key)."""
    return CodedConcept(f"rubric_{rubric.key}", PRIVATE_SCHEME, rubric.name[:64])


def sr_document(
    *,
    evidence: Dataset,
    rubric: Rubric,
    scores: Scores,
    tracking_id: str,
    series_uid: str,
    instance_uid: str,
    instance_number: int,
) -> Dataset:
    """One Comprehensive SR: the measurement report of `scores` on the image `evidence` is the header of."""
    group = MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=uid_derived("tracking", instance_uid), identifier=tracking_id),
        method=rubric_code(rubric),
        finding_sites=[FindingSite(LUNG, laterality=BOTH_SIDES)],
        source_images=[
            SourceImageForMeasurementGroup(
                referenced_sop_class_uid=evidence.SOPClassUID, referenced_sop_instance_uid=evidence.SOPInstanceUID
            )
        ],
        measurements=_measurements(rubric, scores),
        qualitative_evaluations=[QualitativeEvaluation(SCORE_SOURCE, SOURCES[scores.source])],
    )
    report = MeasurementReport(
        observation_context=ObservationContext(**_observer(scores)),
        procedure_reported=PLAIN_CHEST_XRAY,
        imaging_measurements=[group],
        title=codes.DCM.ImagingMeasurementReport,
    )
    return ComprehensiveSR(
        evidence=[evidence],
        content=report[0],
        series_instance_uid=series_uid,
        series_number=SERIES_NUMBER,
        sop_instance_uid=instance_uid,
        instance_number=instance_number,
        manufacturer=MANUFACTURER,
        series_description="Severity scores",
        is_complete=True,
    )


def _measurements(rubric: Rubric, scores: Scores) -> list[Measurement]:
    groups = {item.key: item.group for item in rubric.items}
    out = []
    for key in [*rubric.item_keys, *rubric.total_keys]:
        value = scores.values.get(key)
        if value is None:
            continue
        side = LATERALITY.get(groups.get(key, ""), BOTH_SIDES)
        out.append(
            Measurement(
                name=code_of(rubric, key),
                value=round(float(value), 4),
                unit=SCORE_UNIT,
                finding_sites=[FindingSite(LUNG, laterality=side)],
            )
        )
    if scores.n_raters is not None:
        out.append(Measurement(name=RATER_COUNT, value=scores.n_raters, unit=COUNT_UNIT))
    return out


def _observer(scores: Scores) -> dict[str, ObserverContext]:
    if scores.source == "rater":
        # A trailing caret: the name is one component ("Rater A", a username), not "family^given".
        person = PersonObserverIdentifyingAttributes(name=f"{scores.observer.replace('^', ' ')}^")
        return {"observer_person_context": ObserverContext(codes.DCM.Person, person)}
    device = DeviceObserverIdentifyingAttributes(uid=uid_derived("device", MANUFACTURER), name=scores.observer)
    return {"observer_device_context": ObserverContext(codes.DCM.Device, device)}
