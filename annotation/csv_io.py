"""Ratings in and out as CSV: the exchange format of past reader studies and of our exports."""

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from annotation.audit import Action, audit_record
from annotation.models import Assignment, Case, Study
from annotation.permissions import Ability, memberships_that_may
from annotation.rubrics import RubricValueError, rubric_clean_values, rubric_get
from annotation.selectors import study_completed_assignments, study_dropped_rater_ids, study_main_reads_aided
from annotation.services.assignment import assignment_order_key
from annotation.services.queues import rater_queues_renumber
from annotation.services.ratings import (
    BULK_BATCH,
    IDS_PER_QUERY,
    READING_TIME_MAX_S,
    ImportedRead,
    ratings_bulk_store,
    reading_time_valid,
)
from core.bulk import bulk_insert, collector_paused
from core.errors import InvalidFile
from core.spreadsheet import safe_writer, unquote_cell
from core.types import User

# Columns our own export adds; an import ignores them so that an export can be read back.
EXPORT_ONLY_COLUMNS = {
    "case_id",
    "status",
    "revision",
    "flag_reason",
    "flag_note",
    "model_version_shown",
    "case_excluded",
    "in_analysis",
}
YES, NO = {"yes", "true", "1", "aided"}, {"no", "false", "0", "unaided"}


class RatingsCsvError(InvalidFile):
    """The file as a whole is refused; `errors` names each bad row."""

    def __init__(self, errors: list[str]):
        super().__init__(errors, summary="ratings CSV refused, nothing imported")


@dataclass(frozen=True)
class ParsedRating:
    line: int
    image: str
    rater: str
    values: dict[str, int | None]
    duration_s: float | None
    rated_at: datetime | None
    aided: bool | None = None  # None: the study's main reads (see study_main_reads_aided)


def ratings_csv_parse(*, study: Study, data: bytes, allow_missing_images: bool) -> list[ParsedRating]:
    """Validate the whole file against the study before anything is written."""
    rubric = rubric_get(study.rubric)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RatingsCsvError([f"the file is not UTF-8 text (byte {exc.start}); save it as UTF-8"]) from None
    if "\x00" in text:  # PostgreSQL refuses NUL in text, and no CSV editor writes one
        raise RatingsCsvError(["the file contains NUL bytes: it is not a text CSV"])
    try:
        return _parse_rows(study, rubric, text, allow_missing_images)
    except csv.Error as exc:  # e.g. a field beyond the csv module's size limit, a stray quote
        raise RatingsCsvError([f"the file is not a readable CSV: {exc}"]) from None


def _parse_rows(study: Study, rubric, text: str, allow_missing_images: bool) -> list[ParsedRating]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    errors = _header_errors(reader.fieldnames or [], rubric)
    if errors:
        raise RatingsCsvError(errors)
    images = set(study.cases.values_list("original_filename", flat=True))
    raters = set(study.memberships.filter(memberships_that_may(Ability.RATE)).values_list("user__username", flat=True))
    main_aided, crossover = study_main_reads_aided(study), study.model_assistance == Study.ModelAssistance.CROSSOVER
    parsed, seen = [], {}
    for line, row in enumerate(reader, start=2):
        if (row.get("status") or "").strip() == "flagged":
            continue  # a flag from our own export: there are no scores to import
        # unquote_cell: our own exports quote a name that a spreadsheet would run as a formula.
        image, rater = (unquote_cell((row.get(key) or "").strip()) for key in ("image", "rater"))
        row_errors = []
        if None in row:  # csv.DictReader puts cells beyond the header under None: never drop them silently
            row_errors.append(f"more cells than columns ({len(row[None])} extra); quote values that contain commas")
        if not image:
            row_errors.append("empty image")
        elif image not in images and not allow_missing_images:
            row_errors.append(f"image {image!r} is not in the study (use --allow-missing-images for a past study)")
        if rater not in raters:
            row_errors.append(f"rater {rater!r} is not a rater of the study")
        aided = _row_aided(row, row_errors)
        if aided is not None and aided != main_aided and not crossover:
            row_errors.append(f"aided {row['aided'].strip()!r}: only a crossover study has aided and unaided reads")
        if (image, rater, aided) in seen:
            row_errors.append(f"duplicate of line {seen[(image, rater, aided)]} (same image and rater)")
        seen.setdefault((image, rater, aided), line)
        values = _row_values(row, rubric, row_errors)
        duration = _row_duration(row, row_errors)
        rated_at = _row_rated_at(row, row_errors)
        errors.extend(f"line {line}: {message}" for message in row_errors)
        if not row_errors:
            parsed.append(ParsedRating(line, image, rater, values, duration, rated_at, aided))
    if errors:
        raise RatingsCsvError(errors)
    if not parsed:
        raise RatingsCsvError(["the file has no rating rows"])
    return parsed


def _header_errors(columns: list[str], rubric) -> list[str]:
    required = ["image", "rater", *rubric.item_keys]
    known = set(required) | {"duration_s", "rated_at", "aided"} | EXPORT_ONLY_COLUMNS | set(rubric.total_keys)
    known |= set(prelabel_columns(rubric))
    errors = [f"missing column {name!r}" for name in required if name not in columns]
    errors += [f"unknown column {name!r}" for name in columns if name not in known]
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    errors += [f"column {name!r} appears twice" for name in duplicates]
    return errors


def _row_values(row: dict, rubric, errors: list[str]) -> dict[str, int | None]:
    try:
        return rubric_clean_values(rubric, {key: row.get(key) for key in rubric.item_keys})
    except RubricValueError as exc:
        errors.append(str(exc))
        return {}


def _row_aided(row: dict, errors: list[str]) -> bool | None:
    raw = (row.get("aided") or "").strip().lower()
    if not raw:
        return None
    if raw not in YES | NO:
        errors.append(f"aided {raw!r} is not yes or no")
        return None
    return raw in YES


def _row_duration(row: dict, errors: list[str]) -> float | None:
    raw = (row.get("duration_s") or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        errors.append(f"duration_s {raw!r} is not a number")
        return None
    if not reading_time_valid(value):
        errors.append(f"duration_s {raw} is outside 0 to {READING_TIME_MAX_S} seconds")
        return None
    return value


def _row_rated_at(row: dict, errors: list[str]) -> datetime | None:
    raw = (row.get("rated_at") or "").strip()
    if not raw:
        return None
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        errors.append(f"rated_at {raw!r} is not an ISO 8601 date and time")
        return None
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


@transaction.atomic
def ratings_csv_import(
    *,
    study: Study,
    data: bytes,
    allow_missing_images: bool = False,
    actor: User | None = None,
    via: str = "command line",
) -> int:
    """Import a whole ratings file, or nothing: returns the number of ratings stored. The trail
    records the import (by `actor`, None for the command line) besides each rater's revision.

    The whole file is validated first; then cases, assignments, ratings and events are written in
    bulk statements, so that the number of queries does not grow with the number of rows."""
    if study.is_locked:
        raise RatingsCsvError(["the study is locked: ratings can no longer change"])
    with collector_paused():
        count = _ratings_import(study=study, data=data, allow_missing_images=allow_missing_images)
    details = {"ratings": count, "allow_missing_images": allow_missing_images, "via": via}
    audit_record(study=study, actor=actor, action=Action.RATINGS_IMPORT, target=f"{count} rating(s)", details=details)
    return count


def _ratings_import(*, study: Study, data: bytes, allow_missing_images: bool) -> int:
    parsed = ratings_csv_parse(study=study, data=data, allow_missing_images=allow_missing_images)
    keyed = _read_keys(study, parsed)
    cases = _import_cases(study, names=[row.image for row in parsed])
    assignments = _import_assignments(study, keys=[key for _, key in keyed], cases=cases)
    ratings_bulk_store(
        study=study,
        reads=[
            ImportedRead(
                assignment=assignments[key], values=row.values, reading_time_s=row.duration_s, rated_at=row.rated_at
            )
            for row, key in keyed
        ],
    )
    rater_queues_renumber(study_id=study.pk, rater_ids={assignment.rater_id for assignment in assignments.values()})
    return len(parsed)


def _import_cases(study: Study, *, names: list[str]) -> dict[str, Case]:
    """The study's cases by filename, with an image-less case created for each name it lacks (a past
    study's image we do not have: never shown to raters; parsing refused them unless allowed)."""
    cases = {case.original_filename: case for case in study.cases.all()}
    missing = [
        Case(study=study, image=None, original_filename=name) for name in dict.fromkeys(names) if name not in cases
    ]
    # bulk_create sets the new primary keys on PostgreSQL and SQLite >= 3.35, the databases we run on.
    cases.update((case.original_filename, case) for case in Case.objects.bulk_create(missing, batch_size=BULK_BATCH))
    return cases


def _read_keys(study: Study, parsed: list[ParsedRating]) -> list[tuple[ParsedRating, tuple[str, str, bool]]]:
    """Each row with the read it is of: (image, rater, aided), an unmarked row being a main read."""
    main_aided = study_main_reads_aided(study)
    return [(row, (row.image, row.rater, main_aided if row.aided is None else row.aided)) for row in parsed]


def _import_assignments(
    study: Study, *, keys: list[tuple[str, str, bool]], cases: dict[str, Case]
) -> dict[tuple[str, str, bool], Assignment]:
    """The assignment of each read, locked, with its case and current rating; those that do not
    exist yet are created (the rater's order key as for a read given by the study)."""
    members = {
        m.user.username: m for m in study.memberships.filter(memberships_that_may(Ability.RATE)).select_related("user")
    }
    keys = list(dict.fromkeys(keys))
    found = _locked_assignments(
        case_ids=sorted({cases[image].pk for image, _, _ in keys}),
        rater_ids=sorted({members[rater].user_id for _, rater, _ in keys}),
    )
    assignments, new = {}, []
    for image, rater, aided in keys:
        case, membership = cases[image], members[rater]
        assignment = found.get((case.pk, membership.user_id, aided))
        if assignment is None:
            assignment = Assignment(
                study_id=study.pk,  # ids, not objects: a relation set through its descriptor costs more, per row
                case_id=case.pk,
                rater_id=membership.user_id,
                aided=aided,
                order_key=assignment_order_key(seed=membership.queue_seed, case_id=case.pk),
            )
            new.append(assignment)
        assignment.case = case  # the same object for every read of the case: no query for its public id
        assignments[(image, rater, aided)] = assignment
    bulk_insert(new)
    _fill_primary_keys(study, new)
    return assignments


def _fill_primary_keys(study: Study, new: list[Assignment]) -> None:
    """The ids of assignments just inserted (bulk_insert reads none back), by their natural key, a
    query per IDS_PER_QUERY cases."""
    by_key = {(a.case_id, a.rater_id, a.aided): a for a in new}
    case_ids = sorted({a.case_id for a in new})
    for start in range(0, len(case_ids), IDS_PER_QUERY):
        rows = Assignment.objects.filter(
            study_id=study.pk, case_id__in=case_ids[start : start + IDS_PER_QUERY], repeat=False
        )
        for pk, *key in rows.values_list("pk", "case_id", "rater_id", "aided"):
            if (assignment := by_key.get(tuple(key))) is not None:
                assignment.pk = pk


def _locked_assignments(*, case_ids: list[int], rater_ids: list[int]) -> dict[tuple[int, int, bool], Assignment]:
    """The raters' existing assignments of these cases, locked as rating_store locks one (a rater
    saving meanwhile waits, so revision numbers stay in order), a query per IDS_PER_QUERY cases."""
    found = {}
    for start in range(0, len(case_ids), IDS_PER_QUERY):
        rows = (
            Assignment.objects.select_for_update(of=("self",))
            .select_related("current_rating")
            # An import is of first reads: a repeat read (intra-rater reliability) is only ever read here.
            .filter(case_id__in=case_ids[start : start + IDS_PER_QUERY], rater_id__in=rater_ids, repeat=False)
        )
        found.update(((a.case_id, a.rater_id, a.aided), a) for a in rows)
    return found


def ratings_csv_export(*, study: Study) -> str:
    """Every assignment's current rating or flag; columns read back by `ratings_csv_import`.

    Every read is listed, also those out of the analysis: `case_excluded` marks a case an owner
    excluded, `in_analysis` is 0 for it and for the reads of a removed rater the owner did not keep."""
    rubric = rubric_get(study.rubric)
    dropped = set(study_dropped_rater_ids(study=study).values_list("user_id", flat=True))
    out = io.StringIO()
    writer = safe_writer(out, lineterminator="\n")
    prelabel = prelabel_columns(rubric) if study.model_assistance == Study.ModelAssistance.PRELABEL else []
    writer.writerow(
        [
            "image",
            "case_id",
            "rater",
            "status",
            "revision",
            *rubric.item_keys,
            *rubric.total_keys,
            "duration_s",
            "rated_at",
            "flag_reason",
            "flag_note",
            "aided",
            "model_version_shown",
            *prelabel,
            "case_excluded",
            "in_analysis",
        ]
    )
    for assignment in study_completed_assignments(study=study):
        rating = assignment.current_rating
        values = rating.values if rating else {}
        totals = rating.totals if rating else {}
        excluded = assignment.case.excluded_at is not None
        writer.writerow(
            [
                assignment.case.original_filename,
                assignment.case.public_id,
                assignment.rater.username,
                "scored" if rating else "flagged",
                rating.revision if rating else "",
                *(_cell(values.get(key)) for key in rubric.item_keys),
                *(_cell(totals.get(key)) for key in rubric.total_keys),
                _cell(rating.reading_time_s if rating else None),
                (rating.created_at if rating else assignment.flagged_at).isoformat(),
                assignment.flag_reason,
                assignment.flag_note,
                "yes" if assignment.aided else "no",
                _cell(rating.model_version_shown.number if rating and rating.model_version_shown else None),
                *(_prelabel_cells(rubric, rating) if prelabel else ()),
                1 if excluded else 0,
                0 if excluded or assignment.rater_id in dropped else 1,
            ]
        )
    return out.getvalue()


def prelabel_columns(rubric) -> list[str]:
    """A pre-labelling study's export columns: how many items the rater changed from the model's
    starting values (0: confirmed as they were), then each starting value."""
    return ["prelabel_items_changed", *(f"prelabel_{key}" for key in rubric.item_keys)]


def _prelabel_cells(rubric, rating) -> list[str]:
    start = rating.prelabel_values if rating else None
    if start is None:  # a flag, or a read stored without starting values (an import)
        return [""] * (1 + len(rubric.item_keys))
    changed = sum(rating.values.get(key) != start.get(key) for key in rubric.item_keys)
    return [str(changed), *(_cell(start.get(key)) for key in rubric.item_keys)]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
