"""Writes: every change to studies, cases, assignments and ratings goes through these functions."""

import hashlib
import logging
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max
from django.utils import timezone
from rest_framework.authtoken.models import Token

from annotation import imaging, reading_order
from annotation.audit import Action, audit_record
from annotation.ingest import Limits, MetadataError, Source, metadata_parse, metadata_patient_id
from annotation.models import Adjudication, Assignment, Case, Image, ImportJob, Rating, Study, StudyMembership
from annotation.rubrics import RubricValueError, rubric_clean_values, rubric_get, rubric_totals
from config.dispatch import send_after_commit

logger = logging.getLogger(__name__)
User = get_user_model()


class StudyStateError(Exception):
    """An action the study's status does not allow (e.g. rating a locked study)."""


# --- studies and members -------------------------------------------------------------------------


def study_create(*, owner, slug: str, title: str, rubric: str = "cohen2020", raters_per_case: int = 3) -> Study:
    rubric_get(rubric)  # refuse an unknown rubric with its list of choices
    if raters_per_case < 1:
        raise ValueError("raters per case must be at least 1")
    with transaction.atomic():
        study = Study.objects.create(slug=slug, title=title or slug, rubric=rubric, raters_per_case=raters_per_case)
        StudyMembership.objects.create(study=study, user=owner, role=StudyMembership.Role.OWNER)
    return study


def study_update(
    *,
    study: Study,
    title: str,
    rubric: str,
    raters_per_case: int,
    consensus_method: str = Study.Consensus.MEAN,
    adjudication_range: int = 3,
    model_assistance: str | None = None,
    crossover_gap: int | None = None,
    auto_promote: bool | None = None,
) -> Study:
    """Change a study's settings. The design (rubric, raters per case, model assistance and the
    crossover gap) is fixed once raters start; the analysis settings may change at any time.
    None leaves a setting as it is."""
    design = {
        "rubric": rubric,
        "raters_per_case": raters_per_case,
        "model_assistance": study.model_assistance if model_assistance is None else model_assistance,
        "crossover_gap": study.crossover_gap if crossover_gap is None else crossover_gap,
    }
    if study.status != Study.Status.DRAFT and any(getattr(study, k) != v for k, v in design.items()):
        raise StudyStateError(
            "the rubric, raters per case and model assistance can only change while the study is a draft"
        )
    rubric_get(rubric)
    if design["model_assistance"] not in Study.ModelAssistance.values:
        raise StudyStateError(f"unknown model assistance {design['model_assistance']!r}")
    analysis = {"consensus_method": consensus_method, "adjudication_range": adjudication_range}
    analysis_changed = any(getattr(study, k) != v for k, v in analysis.items())
    for name, value in {"title": title, **design, **analysis}.items():
        setattr(study, name, value)
    if auto_promote is not None:
        study.auto_promote = auto_promote
    study.save()
    if analysis_changed:
        study_ratings_changed(study_id=study.pk)  # the cached report shows consensus and the queue
    return study


@transaction.atomic
def membership_add(*, study: Study, user, role: str, actor=None) -> StudyMembership:
    """Add or change a member's role. A rater's queue seed is drawn once and kept."""
    if study.is_locked:
        raise StudyStateError("the study is locked")
    membership, created = StudyMembership.objects.get_or_create(
        study=study, user=user, defaults={"role": role, "queue_seed": secrets.randbits(48)}
    )
    if not created and membership.role != role:
        if membership.role == StudyMembership.Role.RATER and study.assignments.filter(rater=user).exists():
            raise StudyStateError(f"{user.username} already has cases assigned and stays a rater")
        audit_record(study=study, actor=actor, action=Action.ROLE_CHANGE, target=user.username,
                     details={"from": membership.role, "to": role})
        membership.role = role
        membership.save(update_fields=["role"])
    if created:
        audit_record(study=study, actor=actor, action=Action.MEMBER_ADD, target=user.username, details={"role": role})
    if role == StudyMembership.Role.RATER and study.status == Study.Status.OPEN:
        study_assign_cases(study=study)
    return membership


def user_get_or_create(*, username: str) -> tuple[object, bool]:
    """A user for a rater name; new users get an unusable password until someone sets one."""
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user, created


def member_add_by_username(*, study: Study, username: str, role: str, actor=None) -> tuple[StudyMembership, str | None]:
    """Add a member by username. A new username gets an account with a random password, returned
    once (to be passed on) and never stored in clear; None when the user already existed."""
    with transaction.atomic():
        user, password = User.objects.filter(username=username).first(), None
        if user is None:
            password = secrets.token_urlsafe(9)
            user = User.objects.create_user(username=username, password=password)
        membership = membership_add(study=study, user=user, role=role, actor=actor)
    return membership, password


@transaction.atomic
def study_open(*, study: Study, actor=None) -> int:
    """Open the study to its raters and assign every case; returns the number of assignments made."""
    if study.is_locked:
        raise StudyStateError("a locked study cannot be reopened")
    raters = study.memberships.filter(role=StudyMembership.Role.RATER).count()
    if raters < study.raters_per_case:
        raise StudyStateError(
            f"the study needs at least {study.raters_per_case} raters to open (it has {raters})"
        )
    study.status, study.opened_at = Study.Status.OPEN, study.opened_at or timezone.now()
    study.save(update_fields=["status", "opened_at"])
    made = study_assign_cases(study=study)
    audit_record(study=study, actor=actor, action=Action.OPEN, target=study.slug, details={"assignments_made": made})
    return made


@transaction.atomic
def study_lock(*, study: Study, actor=None) -> Study:
    """Freeze the study: no rating, flag or import changes anything after this."""
    study.status, study.locked_at = Study.Status.LOCKED, timezone.now()
    study.save(update_fields=["status", "locked_at"])
    audit_record(study=study, actor=actor, action=Action.LOCK, target=study.slug)
    return study


# --- assignment ----------------------------------------------------------------------------------


def assignment_order_key(*, seed: int, case_id: int) -> int:
    """The rater's key for a case's (first) read: reproducible from the recorded seed."""
    return reading_order.order_key(seed=seed, case_id=case_id)


@transaction.atomic
def study_assign_cases(*, study: Study) -> int:
    """Give every case with an image exactly `raters_per_case` distinct raters, balancing the load.

    Idempotent: cases that already have enough raters are left alone. Raters with the fewest
    cases are picked first; ties are broken by a random draw seeded by the study and case. In a
    model-assisted study the reads are aided; in a crossover study each rater reads each of their
    cases twice, unaided and aided (annotation/reading_order.py).
    """
    Study.objects.select_for_update().get(pk=study.pk)  # one assignment run per study at a time
    raters = list(study.memberships.filter(role=StudyMembership.Role.RATER).select_related("user"))
    if len(raters) < study.raters_per_case or study.status != Study.Status.OPEN:
        return 0
    load = dict(
        study.assignments.values_list("rater_id").annotate(n=Count("case_id", distinct=True)).values_list("rater_id", "n")
    )
    seeds = {m.user_id: m.queue_seed for m in raters}
    assigned: dict[int, set[int]] = {}
    for case_id, rater_id in study.assignments.values_list("case_id", "rater_id"):
        assigned.setdefault(case_id, set()).add(rater_id)
    new, touched = [], set()
    for case_id in study.cases.filter(image__isnull=False).values_list("pk", flat=True).order_by("pk"):
        have = assigned.get(case_id, set())
        missing = study.raters_per_case - len(have)
        if missing <= 0:
            continue
        tie_break = random.Random(f"{study.pk}:{case_id}")
        candidates = [m.user_id for m in raters if m.user_id not in have]
        tie_break.shuffle(candidates)
        candidates.sort(key=lambda rater_id: load.get(rater_id, 0))
        for rater_id in candidates[:missing]:
            load[rater_id] = load.get(rater_id, 0) + 1
            touched.add(rater_id)
            for aided, key in reading_order.reads_for_case(mode=study.model_assistance, seed=seeds[rater_id], case_id=case_id):
                new.append(Assignment(study=study, case_id=case_id, rater_id=rater_id, order_key=key, aided=aided))
    Assignment.objects.bulk_create(new, batch_size=1000)
    if study.model_assistance == Study.ModelAssistance.CROSSOVER:
        for rater_id in touched:
            _crossover_space(study=study, rater_id=rater_id)
    return len(new)


def _crossover_space(*, study: Study, rater_id: int) -> None:
    reads = [
        reading_order.Read(pk, case_id, key, done is not None)
        for pk, case_id, key, done in study.assignments.filter(rater_id=rater_id).values_list("pk", "case_id", "order_key", "completed_at")
    ]
    keys = reading_order.second_session_keys(reads, gap=study.crossover_gap)
    rows = [Assignment(pk=pk, order_key=key) for pk, key in keys.items()]
    Assignment.objects.bulk_update(rows, ["order_key"], batch_size=1000)


# --- ratings and flags ---------------------------------------------------------------------------


def study_ratings_changed(*, study_id: int) -> None:
    # An UPDATE with F(), not read-modify-write: concurrent submissions must each bump the version,
    # so that a cached agreement report is never taken for current after a change.
    Study.objects.filter(pk=study_id).update(ratings_version=F("ratings_version") + 1)


def _ensure_writable(study: Study, *, source: str) -> None:
    if study.is_locked:
        raise StudyStateError("the study is locked: ratings can no longer change")
    # Imports of a past reader study may fill a draft; raters rate only an open study.
    if source != Rating.Source.IMPORT and study.status != Study.Status.OPEN:
        raise StudyStateError("the study is not open for rating")


@transaction.atomic
def rating_submit(
    *,
    assignment: Assignment,
    values: dict[str, object],
    reading_time_s: float | None = None,
    source: str = Rating.Source.WEB,
    rated_at: datetime | None = None,
    client_key: str = "",
    model_version_shown: int | None = None,
) -> Rating:
    """Store a new revision of the rater's scores; earlier revisions are kept, the latest is current.

    For an aided read, `model_version_shown` is the number of the model version whose pre-score
    the page showed; it is stored with the rating (and refused for an unaided read).

    A `client_key` makes the call idempotent: when the assignment already has a revision stored with
    that key, it is returned and nothing is written (a client retrying after a lost response).

    Raises RubricValueError for an incomplete or out-of-range set of values, StudyStateError when the
    study does not accept ratings.
    """
    locked = Assignment.objects.select_for_update().select_related("study", "case").get(pk=assignment.pk)
    # Checked under the row lock, so two concurrent retries cannot both write; the unique
    # constraint on (assignment, client_key) is the backstop.
    replayed = locked.ratings.filter(client_key=client_key).first() if client_key else None
    if replayed:
        return replayed
    _ensure_writable(locked.study, source=source)
    rubric = rubric_get(locked.study.rubric)
    cleaned = rubric_clean_values(rubric, values)
    if reading_time_s is not None and not (0 <= reading_time_s < 24 * 3600):
        raise RubricValueError("reading time must be between 0 and 24 hours")
    shown = _model_version_shown(locked, model_version_shown)
    last = locked.ratings.aggregate(last=Max("revision"))["last"] or 0
    now = timezone.now()
    rating = Rating.objects.create(
        assignment=locked,
        revision=last + 1,
        values=cleaned,
        totals=rubric_totals(rubric, cleaned),
        reading_time_s=reading_time_s,
        source=source,
        created_at=rated_at or now,
        client_key=client_key,
        model_version_shown=shown,
    )
    locked.current_rating = rating
    locked.flag_reason, locked.flag_note, locked.flagged_at = "", "", None
    locked.completed_at = locked.completed_at or now
    locked.save(update_fields=["current_rating", "flag_reason", "flag_note", "flagged_at", "completed_at"])
    study_ratings_changed(study_id=locked.study_id)
    # The actor is the rater whose scores these are, also for an owner's CSV import of them.
    audit_record(study=locked.study_id, actor=locked.rater_id, action=Action.RATING_REVISION, target=locked.case.public_id,
                 details={"revision": rating.revision, "source": source, "assignment": locked.public_id})
    assignment.refresh_from_db()
    return rating


def _model_version_shown(assignment: Assignment, number: int | None):
    if number is None:
        return None
    if not assignment.aided:
        raise RubricValueError("no model output is shown in an unaided read")
    from scoring.models import ModelVersion

    version = ModelVersion.objects.filter(study_id=assignment.study_id, number=number).first()
    if version is None:
        raise RubricValueError(f"the study has no model version {number}")
    return version


@transaction.atomic
def assignment_flag(*, assignment: Assignment, reason: str, note: str = "") -> Assignment:
    """Flag the case instead of scoring it. Earlier rating revisions are kept but no longer current."""
    if reason not in Assignment.FlagReason.values:
        raise RubricValueError(f"unknown flag reason {reason!r}")
    if reason == Assignment.FlagReason.OTHER and not note.strip():
        raise RubricValueError("say why the case is flagged")
    locked = Assignment.objects.select_for_update().select_related("study", "case").get(pk=assignment.pk)
    _ensure_writable(locked.study, source=Rating.Source.WEB)
    now = timezone.now()
    locked.flag_reason, locked.flag_note, locked.flagged_at = reason, note.strip()[:500], now
    locked.current_rating = None
    locked.completed_at = locked.completed_at or now
    locked.save(update_fields=["flag_reason", "flag_note", "flagged_at", "current_rating", "completed_at"])
    study_ratings_changed(study_id=locked.study_id)
    audit_record(study=locked.study_id, actor=locked.rater_id, action=Action.FLAG, target=locked.case.public_id,
                 details={"reason": reason, "assignment": locked.public_id})
    assignment.refresh_from_db()
    return locked


# --- image import --------------------------------------------------------------------------------


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


def images_import(*, study: Study, sources, metadata: dict[str, dict[str, str]] | None = None, progress=None) -> ImportReport:
    """Import a batch: each file stands alone, so one bad file never stops the rest.

    A metadata.csv found among the sources is used when no metadata was given. Cases already in the
    study get their metadata updated from it too.
    """
    if study.is_locked:
        raise StudyStateError("the study is locked: no images can be added")
    report = ImportReport()
    pending_metadata = metadata
    for source in sources:
        if source.is_metadata and source.data is not None:
            if pending_metadata is None:
                try:
                    pending_metadata = metadata_parse(source.data)
                    report.rows.append(ImportRow(source.name, source.where, "metadata", "metadata table read"))
                except MetadataError as exc:
                    report.rows.append(ImportRow(source.name, source.where, "rejected", str(exc)))
            continue
        report.rows.append(case_import(study=study, source=source))
        if progress:
            progress(len(report.rows))
    if pending_metadata:
        report.rows.extend(cases_apply_metadata(study=study, metadata=pending_metadata))
    if study.status == Study.Status.OPEN:
        study_assign_cases(study=study)
    return report


def cases_apply_metadata(*, study: Study, metadata: dict[str, dict[str, str]]) -> list[ImportRow]:
    rows = []
    cases = {case.original_filename: case for case in study.cases.filter(original_filename__in=list(metadata))}
    for filename, case in cases.items():
        case.metadata = metadata[filename]
        case.patient_id = metadata_patient_id(metadata[filename])[:128]
    Case.objects.bulk_update(cases.values(), ["metadata", "patient_id"], batch_size=500)
    unmatched = sorted(set(metadata) - set(cases))
    if unmatched:
        shown = ", ".join(unmatched[:5]) + (" ..." if len(unmatched) > 5 else "")
        rows.append(ImportRow("metadata.csv", "metadata", "metadata", f"{len(unmatched)} row(s) match no case: {shown}"))
    return rows


def case_import(*, study: Study, source: Source) -> ImportRow:
    """Decode, store and add one image to the study, or say why not. Never leaves a partial case."""
    if source.rejection:
        return ImportRow(source.name, source.where, "rejected", source.rejection)
    data = source.data or b""
    sha256 = hashlib.sha256(data).hexdigest()
    existing = study.cases.filter(image__sha256=sha256).only("original_filename").first()
    if existing:
        return ImportRow(source.name, source.where, "duplicate", f"same image as {existing.original_filename}")
    clash = study.cases.filter(original_filename=source.name).first()
    if clash and clash.image_id:
        return ImportRow(source.name, source.where, "rejected", "another image with this filename is already in the study")
    # The Image row and the Case row go in one transaction: if the case cannot be written, a newly
    # stored image is rolled back too and its files (listed in `written`) are removed again.
    written: list[str] = []
    try:
        with transaction.atomic():
            image = image_store(data=data, sha256=sha256, written=written)
            if clash:  # a case imported with ratings but without its image gets its image now
                clash.image = image
                clash.save(update_fields=["image"])
            else:
                Case.objects.create(study=study, image=image, original_filename=source.name[:255])
    except imaging.ImageRejected as exc:
        return ImportRow(source.name, source.where, "rejected", str(exc))
    except IntegrityError:
        _delete_files(written)
        return ImportRow(source.name, source.where, "duplicate", "imported at the same time by another upload")
    except BaseException:
        _delete_files(written)
        raise
    return ImportRow(source.name, source.where, "imported")


def image_store(*, data: bytes, sha256: str, written: list[str] | None = None) -> Image:
    """The Image for these bytes: reused when the content is known, else decoded and stored.

    Files are written before the row; if the row cannot be written the files are removed again.
    `written`, if given, receives the names of the files this call stored (empty when the image was
    known), so that a caller whose own write fails afterwards can remove them.
    """
    known = Image.objects.filter(sha256=sha256).first()
    if known:
        return known
    if not data:
        raise imaging.ImageRejected("empty file")
    decoded = imaging.decode_image(data, max_pixels=settings.IMPORT_MAX_IMAGE_PIXELS)
    display, display_width, display_height = imaging.display_png(decoded, max_side=settings.DISPLAY_MAX_SIDE)
    # Names carry the content hash only: never the uploaded filename.
    original_name = f"originals/{sha256[:2]}/{sha256}.{decoded.source_format}"
    display_name = f"display/{sha256[:2]}/{sha256}.png"
    written = [] if written is None else written
    try:
        for name, content in ((original_name, data), (display_name, display)):
            if default_storage.exists(name):
                default_storage.delete(name)
            written.append(default_storage.save(name, ContentFile(content)))
        height, width = decoded.pixels.shape
        with transaction.atomic():
            return Image.objects.create(
                sha256=sha256,
                original=written[0],
                display=written[1],
                source_format=decoded.source_format,
                bit_depth=decoded.bit_depth,
                width=width,
                height=height,
                display_width=display_width,
                display_height=display_height,
            )
    except IntegrityError:
        _delete_files(written)
        written.clear()  # removed here already: the caller must not remove these names again
        return Image.objects.get(sha256=sha256)  # stored meanwhile by a concurrent import
    except BaseException:
        _delete_files(written)
        written.clear()
        raise


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.exception("could not remove %s after a failed import", name)


# --- web uploads, imported by a worker -----------------------------------------------------------


def import_job_create(*, study: Study, user, files) -> ImportJob:
    """Keep the uploaded files and queue their import; the worker is told once the job is committed."""
    from annotation.tasks import import_job_run  # tasks import services

    if study.is_locked:
        raise StudyStateError("the study is locked: no images can be added")
    folder = f"uploads/{secrets.token_hex(8)}"
    with transaction.atomic():
        for upload in files:
            default_storage.save(f"{folder}/{secrets.token_hex(4)}/{_safe_upload_name(upload.name)}", upload)
        job = ImportJob.objects.create(study=study, created_by=user, upload_dir=folder, total=len(files))
        send_after_commit(import_job_run, job_id=job.pk)  # a broker outage leaves it QUEUED: requeue_jobs
    return job


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
    """Run a queued import job. Claiming it with a conditional update makes a redelivery a no-op."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(status=ImportJob.Status.RUNNING)
    if not claimed:
        return None
    job = ImportJob.objects.select_related("study").get(pk=job_id)
    try:
        report = images_import(study=job.study, sources=_job_sources(job), progress=lambda n: _job_progress(job, n))
    except StudyStateError as exc:
        job.status, job.error = ImportJob.Status.FAILED, str(exc)
    else:
        job.status, job.report = ImportJob.Status.DONE, [row.as_dict() for row in report.rows]
        job.total = job.done = report.count("imported") + report.count("duplicate") + report.count("rejected")
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "report", "total", "done", "finished_at"])
    _remove_upload_folder(job.upload_dir)
    return job


def _job_sources(job: ImportJob):
    from annotation.ingest import sources_from_upload

    subfolders, _ = default_storage.listdir(job.upload_dir)
    for sub in sorted(subfolders):
        for filename in default_storage.listdir(f"{job.upload_dir}/{sub}")[1]:
            path = f"{job.upload_dir}/{sub}/{filename}"
            yield from sources_from_upload(filename, default_storage.open(path, "rb"), default_storage.size(path), limits=import_limits())


def _job_progress(job: ImportJob, done: int) -> None:
    ImportJob.objects.filter(pk=job.pk).update(done=done, total=max(job.total, done))


def _remove_upload_folder(folder: str) -> None:
    try:
        subfolders, _ = default_storage.listdir(folder)
        for sub in subfolders:
            for filename in default_storage.listdir(f"{folder}/{sub}")[1]:
                default_storage.delete(f"{folder}/{sub}/{filename}")
    except OSError:
        logger.exception("could not clean up %s", folder)


# --- adjudication --------------------------------------------------------------------------------


@transaction.atomic
def membership_set_adjudicator(*, study: Study, user, allowed: bool, actor=None) -> StudyMembership:
    """Let an owner or observer adjudicate. A rater cannot: adjudicators see everyone's scores."""
    membership = StudyMembership.objects.get(study=study, user=user)
    if allowed and membership.role == StudyMembership.Role.RATER:
        raise StudyStateError(f"{user.username} is a rater of this study and cannot adjudicate it")
    if membership.can_adjudicate != allowed:
        audit_record(study=study, actor=actor, action=Action.ADJUDICATOR_CHANGE, target=user.username,
                     details={"can_adjudicate": allowed})
    membership.can_adjudicate = allowed
    membership.save(update_fields=["can_adjudicate"])
    return membership


@transaction.atomic
def adjudication_record(*, case: Case, adjudicator, values: dict[str, object], note: str = "") -> Adjudication:
    """Record a final score for a case; the raters' own ratings are never changed."""
    study = Study.objects.select_for_update().get(pk=case.study_id)
    if study.is_locked:
        raise StudyStateError("the study is locked: adjudications can no longer change")
    if not StudyMembership.objects.filter(study=study, user=adjudicator, can_adjudicate=True).exclude(
        role=StudyMembership.Role.RATER
    ).exists():
        raise StudyStateError(f"{adjudicator.username} is not an adjudicator of this study")
    rubric = rubric_get(study.rubric)
    cleaned = rubric_clean_values(rubric, values)
    last = case.adjudications.aggregate(last=Max("revision"))["last"] or 0
    adjudication = Adjudication.objects.create(
        case=case,
        adjudicator=adjudicator,
        revision=last + 1,
        values=cleaned,
        totals=rubric_totals(rubric, cleaned),
        note=note.strip()[:1000],
    )
    study_ratings_changed(study_id=study.pk)
    audit_record(study=study, actor=adjudicator, action=Action.ADJUDICATION, target=case.public_id,
                 details={"revision": adjudication.revision})
    return adjudication


# --- API tokens ----------------------------------------------------------------------------------


def api_token_get_or_create(*, user) -> Token:
    """The user's API token, created on first use (password login through the API)."""
    token, _ = Token.objects.get_or_create(user=user)
    return token


@transaction.atomic
def api_token_rotate(*, user) -> Token:
    """A new API token for the user; the previous one, if any, stops working at once."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def api_token_revoke(*, user) -> bool:
    """Delete the user's API token; True if there was one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)


# --- login throttling ----------------------------------------------------------------------------


def _login_failure_key(*, username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}\n{address}".encode()).hexdigest()
    return f"login-failures:{digest}"


def login_failure_record(*, username: str, address: str) -> int:
    """Count one failed login for this username from this address; returns the count in the window."""
    from django.core.cache import cache

    key = _login_failure_key(username=username, address=address)
    # The window starts at the first failure: add() is a no-op when the counter exists already.
    cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW_S)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_S)
        return 1


def login_is_throttled(*, username: str, address: str) -> bool:
    """True once LOGIN_FAILURE_LIMIT failures were recorded within LOGIN_FAILURE_WINDOW_S."""
    from django.core.cache import cache

    return cache.get(_login_failure_key(username=username, address=address), 0) >= settings.LOGIN_FAILURE_LIMIT
