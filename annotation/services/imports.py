"""Image imports: a batch of files into a study, each file standing alone; web uploads as jobs."""

import hashlib
import logging
import secrets
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, IntegrityError, transaction

from annotation import imaging
from annotation.audit import audit_import
from annotation.ingest import Limits, MetadataError, Source, metadata_parse, metadata_patient_id, sources_from_upload
from annotation.models import Case, ImportJob, Study
from annotation.selectors import study_storage_used
from annotation.services.assignment import study_assign_cases
from annotation.services.queues import rater_queues_renumber
from annotation.services.storage import files_delete, image_store
from annotation.services.studies import StudyStateError, study_ratings_changed
from core.errors import TooLarge
from core.jobs import job_claim, job_dispatch, job_finish, job_progress
from core.types import User

logger = logging.getLogger(__name__)


class StorageQuotaExceeded(TooLarge):
    """An upload or image that would take a study over STUDY_STORAGE_QUOTA_BYTES."""

    code = "storage_quota"


UNMATCHED = "metadata: unmatched"  # the `where` of a metadata row that names no case of the study


@dataclass
class ImportRow:
    name: str
    where: str
    status: str  # imported | duplicate | rejected | metadata
    reason: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "where": self.where, "status": self.status, "reason": self.reason}


@dataclass
class ImportReport:
    rows: list[ImportRow] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)


def import_limits() -> Limits:
    return Limits(
        max_file_bytes=settings.IMPORT_MAX_FILE_BYTES,
        max_archive_bytes=settings.IMPORT_MAX_ARCHIVE_BYTES,
        max_archive_members=settings.IMPORT_MAX_ARCHIVE_MEMBERS,
    )


def images_import(
    *,
    study: Study,
    sources: Iterable[Source],
    metadata: dict[str, dict[str, str]] | None = None,
    already: Collection[str] = (),
    on_row: Callable[[ImportRow], None] | None = None,
) -> ImportReport:
    """Import a batch: each file stands alone, so one bad file never stops the rest.

    Every .csv among the sources is read as a metadata table (ingest.metadata_parse: it needs a
    filename column) and used when no metadata was given; several add up. Cases already in the study
    get their metadata updated from it too. `already` names sources (by `where`) that an
    interrupted run of the same batch handled: they are not imported or reported again; `on_row` is
    told of each row as it is decided, so that a job can keep its report as it goes.
    """
    if study.is_locked:
        raise StudyStateError("the study is locked: no images can be added")
    report = ImportReport()

    def add(row: ImportRow) -> None:
        report.rows.append(row)
        if on_row:
            on_row(row)

    found: dict[str, dict[str, str]] = {}
    for source in sources:
        if source.is_metadata and source.data is not None:
            # Read again on a resumed run (the tables are applied at the end), reported once.
            row = _metadata_read(source=source, into=found, used=metadata is None)
            if source.where not in already:
                add(row)
            continue
        if source.where not in already:
            add(case_import(study=study, source=source))
    tables = found if metadata is None else metadata
    if tables:
        for row in _metadata_apply(study=study, metadata=tables):
            add(row)
    if study.status == Study.Status.OPEN:
        study_assign_cases(study=study)
    if report.count("imported"):  # an image for a case imported without one puts it in raters' queues
        rater_queues_renumber(study_id=study.pk)
    return report


def _metadata_apply(*, study: Study, metadata: dict[str, dict[str, str]]) -> list[ImportRow]:
    try:
        return cases_apply_metadata(study=study, metadata=metadata)
    except Exception as exc:  # noqa: BLE001 - the images stay imported; the report says what failed
        logger.exception("applying metadata to study %s failed", study.pk)
        return [ImportRow("metadata.csv", "metadata", "rejected", f"metadata not applied ({type(exc).__name__})")]


def _metadata_read(*, source: Source, into: dict[str, dict[str, str]], used: bool) -> ImportRow:
    """Read one .csv of a batch as a metadata table into `into`; a second table adds its columns."""
    try:
        table = metadata_parse(source.data or b"")
    except MetadataError as exc:
        return ImportRow(source.name, source.where, "rejected", str(exc))
    if not used:
        return ImportRow(source.name, source.where, "metadata", "not used: the import was given a metadata table")
    for filename, row in table.items():
        into.setdefault(filename, {}).update(row)
    return ImportRow(source.name, source.where, "metadata", f"metadata table read: {len(table)} rows")


def cases_apply_metadata(*, study: Study, metadata: dict[str, dict[str, str]]) -> list[ImportRow]:
    """Attach each metadata row to the case of its filename (a row naming a path, "images/a.png",
    to the case "a.png" when no case has the whole name). Returns the report's rows: how many rows
    matched a case, then one row for each that matched none."""
    base = {name: PurePosixPath(name.replace("\\", "/")).name for name in metadata}
    cases = {case.original_filename: case for case in study.cases.filter(original_filename__in={*base, *base.values()})}
    matched: dict[str, str] = {}  # case filename -> metadata filename; whole names first
    for name in sorted(metadata, key=lambda name: name not in cases):
        target = name if name in cases else base[name]
        if target in cases and target not in matched:
            matched[target] = name
    regrouped = False
    for target, name in matched.items():
        patient_id = metadata_patient_id(metadata[name])[:128]
        regrouped |= patient_id != cases[target].patient_id
        cases[target].metadata = metadata[name]
        cases[target].patient_id = patient_id
    Case.objects.bulk_update([cases[target] for target in matched], ["metadata", "patient_id"], batch_size=500)
    if regrouped:  # the report's bootstrap resamples patients: a report computed before is out of date
        study_ratings_changed(study_id=study.pk)
    unmatched = sorted(set(metadata) - set(matched.values()))
    summary = f"{len(matched)} of {len(metadata)} metadata rows matched a case"
    if unmatched:
        summary += f"; {len(unmatched)} match no case (listed below)"
    rows = [ImportRow("metadata", "metadata", "metadata", summary)]
    rows += [ImportRow(name, UNMATCHED, "metadata", "no case with this filename in the study") for name in unmatched]
    return rows


def case_import(*, study: Study, source: Source) -> ImportRow:
    """Decode, store and add one image to the study, or say why not. Never leaves a partial case,
    and never raises for a bad file: whatever goes wrong with one file is that file's rejection."""
    if source.rejection:
        return ImportRow(source.name, source.where, "rejected", source.rejection)
    if any(ord(char) < 32 for char in source.name):
        return ImportRow(source.name, source.where, "rejected", "file name with control characters")
    try:
        return _case_import(study=study, source=source)
    except (DatabaseError, OSError):
        raise  # the database or the storage failed, not this file: the job ends FAILED, saying so
    except Exception as exc:  # noqa: BLE001 - one file's failure must not end the batch or the job
        logger.exception("importing %s failed", source.where)
        return ImportRow(source.name, source.where, "rejected", f"could not be imported ({type(exc).__name__})")


def _case_import(*, study: Study, source: Source) -> ImportRow:
    data = source.data or b""
    sha256 = hashlib.sha256(data).hexdigest()
    existing = study.cases.filter(image__sha256=sha256).only("original_filename").first()
    if existing is None:
        try:  # the upload itself was counted while pending; what counts now is what is stored
            quota_check(study=study, adding=len(data), pending_uploads=False)
        except StorageQuotaExceeded as exc:
            return ImportRow(source.name, source.where, "rejected", str(exc))
    if existing:
        return ImportRow(source.name, source.where, "duplicate", f"same image as {existing.original_filename}")
    clash = study.cases.filter(original_filename=source.name).first()
    if clash and clash.image_id:
        reason = "another image with this filename is already in the study"
        return ImportRow(source.name, source.where, "rejected", reason)
    # The Image row and the Case row go in one transaction: if the case cannot be written, a newly
    # stored image is rolled back too and its files (listed in `written`) are removed again.
    written: list[str] = []
    try:
        with transaction.atomic():
            image = image_store(data=data, sha256=sha256, written=written)
            if image.burned_in_annotation and study.burned_in_annotation == Study.BurnedIn.REJECT:
                raise imaging.ImageRejected(
                    "the DICOM says text is burned into the pixels (BurnedInAnnotation YES), which may name "
                    "the patient: this study refuses such images (its settings can import and mark them)"
                )
            uids = _dicom_source_fields(data) if image.source_format == "dicom" else {}
            if clash:  # a case imported with ratings but without its image gets its image now
                clash.image = image
                for name, value in uids.items():
                    setattr(clash, name, value)
                clash.save(update_fields=["image", *uids])
            else:
                Case.objects.create(study=study, image=image, original_filename=source.name[:255], **uids)
    except imaging.ImageRejected as exc:
        files_delete(written)  # stored before the study's own rule refused it (image_store cleans up its own)
        return ImportRow(source.name, source.where, "rejected", str(exc))
    except IntegrityError:
        files_delete(written)
        return ImportRow(source.name, source.where, "duplicate", "imported at the same time by another upload")
    except BaseException:
        files_delete(written)
        raise
    return ImportRow(source.name, source.where, "imported")


def _dicom_source_fields(data: bytes) -> dict[str, str]:
    """The Case fields naming the DICOM instance a file is (empty when its header lacks them)."""
    source = imaging.dicom_source(data)
    if source is None:
        return {}
    return {
        "dicom_study_uid": source.study_uid,
        "dicom_series_uid": source.series_uid,
        "dicom_sop_instance_uid": source.sop_instance_uid,
        "dicom_sop_class_uid": source.sop_class_uid,
    }


# --- web uploads, imported by a worker -----------------------------------------------------------


def import_job_create(*, study: Study, user: User, files: list[UploadedFile]) -> ImportJob:
    """Keep the uploaded files and queue their import; the worker is told once the job is committed.
    Refused whole, before anything is stored, when the upload would take the study over its quota."""
    if study.is_locked:
        raise StudyStateError("the study is locked: no images can be added")
    size = sum(upload.size or 0 for upload in files)
    quota_check(study=study, adding=size)
    folder = f"uploads/{secrets.token_hex(8)}"
    try:
        with transaction.atomic():
            for index, upload in enumerate(files):  # numbered: the job reads them back in upload order
                default_storage.save(f"{folder}/{index:05d}/{_safe_upload_name(upload.name)}", upload)
            job = ImportJob.objects.create(
                study=study, created_by=user, upload_dir=folder, total=len(files), upload_bytes=size
            )
            job_dispatch(job=job)  # a broker outage leaves it QUEUED: requeue_jobs
    except BaseException:
        _remove_upload_folder(folder)  # no job, so no upload left behind either
        raise
    return job


def quota_check(*, study: Study, adding: int, pending_uploads: bool = True) -> None:
    """Raise StorageQuotaExceeded when `adding` more bytes would take the study over its quota."""
    quota = settings.STUDY_STORAGE_QUOTA_BYTES
    if not quota:
        return
    used = study_storage_used(study=study, pending_uploads=pending_uploads)
    if used + adding > quota:
        raise StorageQuotaExceeded(
            f"the study's storage quota of {_gigabytes(quota)} would be exceeded: it holds {_gigabytes(used)} "
            f"and this is {_gigabytes(adding)} more (remove unrated cases you do not need, or ask the "
            "administrator to raise STUDY_STORAGE_QUOTA_BYTES)"
        )


def _gigabytes(size: int) -> str:
    return f"{size / 1024**3:.2f} GB" if size >= 1024**3 else f"{size / 1024**2:.1f} MB"


def _safe_upload_name(name: str) -> str:
    base = name.replace("\\", "/").split("/")[-1].strip() or "upload"
    # File systems allow 255 bytes per name, not characters: 300 CJK characters are ~900 bytes.
    # Cut the stem at 200 bytes on a character boundary and keep the extension.
    stem, dot, extension = base.rpartition(".")
    if not dot or not stem or len(extension) > 10:
        stem, dot, extension = base, "", ""
    stem = stem.encode()[:200].decode("utf-8", "ignore") or "upload"
    return f"{stem}{dot}{extension}"


def import_job_execute(*, job_id: int) -> ImportJob | None:
    """Run an import job to its end, DONE or FAILED with a reason. Claimed with a conditional update,
    so a redelivery is a no-op; a job whose worker died (RUNNING) is claimed again and resumes after
    the files its report already names (every file is handled once, and content hashes make a second
    import of the same image a duplicate anyway). The uploaded files are removed when it ends."""
    job = job_claim(model=ImportJob, pk=job_id, select_related=("study",))
    if job is None:
        return None
    if job.dicomweb_selection:  # from the archive, not an upload
        from annotation.services.dicomweb import dicomweb_job_execute  # it imports this module

        return dicomweb_job_execute(job=job)
    rows = list(job.report)  # what an interrupted attempt decided already
    already = {row["where"] for row in rows}

    def keep(row: ImportRow) -> None:
        rows.append(row.as_dict())
        files = _file_rows(rows)
        job_progress(job=job, done=files, total=max(job.total, files), report=rows)

    try:
        images_import(study=job.study, sources=_job_sources(job), already=already, on_row=keep)
    except StudyStateError as exc:
        job_finish(job=job, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a job ends FAILED with its reason, never stays RUNNING
        logger.exception("import job %s failed", job_id)
        job_finish(job=job, error=f"the import stopped: {type(exc).__name__}: {exc}"[:2000])
    else:
        job.report = rows
        job.total = job.done = _file_rows(rows)
        job_finish(job=job, fields=("report", "total", "done"))
    audit_import(study=job.study, actor=job.created_by_id, rows=rows, via="upload", error=job.error)
    _remove_upload_folder(job.upload_dir)
    return job


def _file_rows(rows: list[dict]) -> int:
    return sum(1 for row in rows if row["status"] in ("imported", "duplicate", "rejected"))


def _job_sources(job: ImportJob) -> Iterator[Source]:
    subfolders, _ = default_storage.listdir(job.upload_dir)
    for sub in sorted(subfolders):
        for filename in default_storage.listdir(f"{job.upload_dir}/{sub}")[1]:
            path = f"{job.upload_dir}/{sub}/{filename}"
            handle, size = default_storage.open(path, "rb"), default_storage.size(path)
            yield from sources_from_upload(filename, handle, size, limits=import_limits())


def _remove_upload_folder(folder: str) -> None:
    """The uploaded files, and their folders where the storage has folders."""
    try:
        subfolders, _ = default_storage.listdir(folder)
        for sub in subfolders:
            for filename in default_storage.listdir(f"{folder}/{sub}")[1]:
                default_storage.delete(f"{folder}/{sub}/{filename}")
            default_storage.delete(f"{folder}/{sub}")
        default_storage.delete(folder)
    except OSError:
        logger.exception("could not clean up %s", folder)
