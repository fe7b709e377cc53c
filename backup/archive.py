"""One study in one zip archive, and back: a manifest (JSON, natural keys only) plus image files.

The manifest names every file in the archive; an import reads nothing else, checks each file's
SHA-256 against it and restores the study in one transaction on a site that lacks its slug.
"""

import hashlib
import json
import re
import zipfile
from datetime import datetime
from typing import IO

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils.dateparse import parse_datetime

from annotation.models import Adjudication, Assignment, AuditEvent, Case, Image, Rating, Study, StudyMembership
from annotation.services.members import user_get_or_create
from annotation.services.queues import rater_queues_renumber
from annotation.services.storage import file_replace, files_delete, image_file_names
from scoring.models import LockedTestSet, ModelVersion, Prediction

FORMAT = "cxr-study-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
STUDY_FIELDS = [
    "title",
    "slug",
    "rubric",
    "raters_per_case",
    "status",
    "consensus_method",
    "adjudication_range",
    "bootstrap_raters",
    "ratings_version",
    "model_assistance",
    "crossover_gap",
    "queue_order",
    "repeat_fraction",
    "repeat_washout_days",
    "repeat_washout_cases",
    "primary_metric",
    "primary_score",
    "auto_promote",
    "burned_in_annotation",
    "adjudication_blind",
    "created_at",
    "opened_at",
    "locked_at",
]
IMAGE_FIELDS = ["source_format", "bit_depth", "width", "height", "display_width", "display_height", "created_at"]
# Added after format version 1 was first written: an older archive lacks them, and gets these.
IMAGE_FIELDS_LATER = {"original_bytes": 0, "burned_in_annotation": False}
# Case fields added after format version 1 was first written: "" when an older archive lacks them.
DICOM_SOURCE_FIELDS = ["dicom_study_uid", "dicom_series_uid", "dicom_sop_instance_uid", "dicom_sop_class_uid"]
# Model version and prediction fields added after format version 1 was first written (issue 16):
# an older archive lacks them, and gets these empty values.
MODEL_VERSION_FIELDS_LATER = {
    "weights_sha256": "",
    "provenance": {},
    "training_table": [],
    "promotion": {},
    "intervals": {},
}
PREDICTION_FIELDS_LATER = {"intervals": {}, "backbone_key": ""}
SHA256 = re.compile(r"^[0-9a-f]{64}$")
EXTENSION = re.compile(r"^[a-z0-9]{1,8}$")


class BackupError(ValueError):
    """The archive cannot be restored here; nothing was written."""


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _username(user) -> str | None:
    return user.username if user else None


# --- export --------------------------------------------------------------------------------------


def _locked_test_set_manifest(study: Study) -> dict | None:
    locked = LockedTestSet.objects.filter(study=study).first()
    if locked is None:
        return None
    ids = sorted(locked.cases.values_list("public_id", flat=True))
    return {"fraction": locked.fraction, "seed": locked.seed, "cases": ids}


def study_manifest(*, study: Study) -> dict:
    """Everything about the study, keyed by public ids, usernames and version numbers (no row ids)."""
    cases = list(study.cases.select_related("image").order_by("pk"))
    versions = list(study.model_versions.order_by("number"))
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "study": {name: _when(v) if isinstance(v := getattr(study, name), datetime) else v for name in STUDY_FIELDS},
        "memberships": [
            {
                "username": m.user.username,
                "role": m.role,
                "can_adjudicate": m.can_adjudicate,
                "queue_seed": m.queue_seed,
                "was_adjudicator": m.was_adjudicator,
                "removed_at": _when(m.removed_at),
                "ratings_kept": m.ratings_kept,
                "created_at": _when(m.created_at),
            }
            for m in study.memberships.select_related("user").order_by("pk")
        ],
        "images": _images_manifest(cases),
        "cases": [
            {
                "public_id": c.public_id,
                "image": c.image.sha256 if c.image else None,
                "original_filename": c.original_filename,
                "patient_id": c.patient_id,
                "metadata": c.metadata,
                **{name: getattr(c, name) for name in DICOM_SOURCE_FIELDS},
                "excluded_at": _when(c.excluded_at),
                "exclusion_reason": c.exclusion_reason,
                "created_at": _when(c.created_at),
            }
            for c in cases
        ],
        "assignments": _assignments_manifest(study),
        "adjudications": [
            {
                "case": a.case.public_id,
                "adjudicator": a.adjudicator.username,
                "revision": a.revision,
                "values": a.values,
                "totals": a.totals,
                "note": a.note,
                "created_at": _when(a.created_at),
            }
            for a in Adjudication.objects.filter(case__study=study).select_related("case", "adjudicator").order_by("pk")
        ],
        "model_versions": [
            {
                "number": v.number,
                "backbone": v.backbone,
                "feature_set": v.feature_set,
                "head": v.head,
                "metrics": v.metrics,
                "training_cases": v.training_cases,
                **{name: getattr(v, name) for name in MODEL_VERSION_FIELDS_LATER},
                "source": v.source,
                "is_active": v.is_active,
                "created_at": _when(v.created_at),
            }
            for v in versions
        ],
        "predictions": [
            {
                "case": p.case.public_id,
                "model_version": p.model_version.number,
                "values": p.values,
                **{name: getattr(p, name) for name in PREDICTION_FIELDS_LATER},
                "created_at": _when(p.created_at),
            }
            for p in Prediction.objects.filter(model_version__study=study)
            .select_related("case", "model_version")
            .order_by("pk")
        ],
        "locked_test_set": _locked_test_set_manifest(study),
        "audit_events": [
            {
                "actor": _username(e.actor),
                "action": e.action,
                "target": e.target,
                "details": e.details,
                "created_at": _when(e.created_at),
            }
            for e in study.audit_events.select_related("actor").order_by("created_at", "pk")
        ],
    }


def _images_manifest(cases: list[Case]) -> list[dict]:
    images, seen = [], set()
    for case in cases:
        image = case.image
        if image is None or image.sha256 in seen:
            continue
        seen.add(image.sha256)
        row = {name: getattr(image, name) for name in [*IMAGE_FIELDS, *IMAGE_FIELDS_LATER]}
        row.update(
            sha256=image.sha256,
            created_at=_when(image.created_at),
            original_ext=image.original.name.rsplit(".", 1)[-1].lower(),
            display_sha256=_file_sha256(image.display.name),
        )
        images.append(row)
    return images


def _assignments_manifest(study: Study) -> list[dict]:
    ratings: dict[int, list[dict]] = {}
    query = (
        Rating.objects.filter(assignment__study=study)
        .select_related("model_version_shown")
        .order_by("assignment_id", "revision")
    )
    for r in query:
        ratings.setdefault(r.assignment_id, []).append(
            {
                "revision": r.revision,
                "values": r.values,
                "totals": r.totals,
                "reading_time_s": r.reading_time_s,
                "source": r.source,
                "client_key": r.client_key,
                "created_at": _when(r.created_at),
                "model_version_shown": r.model_version_shown.number if r.model_version_shown else None,
                "prelabel_values": r.prelabel_values,
            }
        )
    current = dict(
        Rating.objects.filter(
            assignment__study=study, pk__in=study.assignments.values("current_rating_id")
        ).values_list("assignment_id", "revision")
    )
    return [
        {
            "public_id": a.public_id,
            "case": a.case.public_id,
            "rater": a.rater.username,
            "order_key": a.order_key,
            "aided": a.aided,
            "repeat": a.repeat,
            "available_at": _when(a.available_at),
            "available_after_done": a.available_after_done,
            "current_revision": current.get(a.pk),
            "flag_reason": a.flag_reason,
            "flag_note": a.flag_note,
            "flagged_at": _when(a.flagged_at),
            "completed_at": _when(a.completed_at),
            "created_at": _when(a.created_at),
            "ratings": ratings.get(a.pk, []),
        }
        for a in study.assignments.select_related("case", "rater").order_by("pk")
    ]


def _file_sha256(name: str) -> str:
    with default_storage.open(name, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _archive_names(image: dict) -> tuple[str, str]:
    return f"images/{image['sha256']}.{image['original_ext']}", f"images/{image['sha256']}.display.png"


def study_export(*, study: Study, output: IO[bytes]) -> dict:
    """Write the study's archive to `output`; returns the manifest."""
    manifest = study_manifest(study=study)
    stored = {img.sha256: img for img in Image.objects.filter(sha256__in=[i["sha256"] for i in manifest["images"]])}
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
        for row in manifest["images"]:
            image = stored[row["sha256"]]
            for arcname, name in zip(_archive_names(row), (image.original.name, image.display.name), strict=True):
                with default_storage.open(name, "rb") as handle:
                    archive.writestr(arcname, handle.read())
    return manifest


# --- import --------------------------------------------------------------------------------------


def study_import(*, source: IO[bytes] | str) -> Study:
    """Restore an archive written by study_export. Raises BackupError and writes nothing when the
    archive is malformed, unsafe or its slug is taken; files written before a failure are removed."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BackupError(f"not a zip archive: {exc}") from None
    with archive:
        manifest = _read_manifest(archive)
        files = _read_files(archive, manifest)
        written: list[str] = []
        try:
            with transaction.atomic():
                return _restore(manifest, files, written)
        except BaseException:
            files_delete(written)
            raise


def _read_manifest(archive: zipfile.ZipFile) -> dict:
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except KeyError:
        raise BackupError(f"the archive has no {MANIFEST}") from None
    except (ValueError, zipfile.BadZipFile) as exc:
        raise BackupError(f"{MANIFEST} is not readable JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("the archive is not a study backup")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"unsupported backup format version {manifest.get('format_version')!r} (this site reads {FORMAT_VERSION})"
        )
    for image in manifest.get("images", []):
        if not (
            SHA256.match(str(image.get("sha256")))
            and SHA256.match(str(image.get("display_sha256")))
            and EXTENSION.match(str(image.get("original_ext")))
        ):
            raise BackupError("the manifest names an image with a malformed hash or extension")
    return manifest


def _read_files(archive: zipfile.ZipFile, manifest: dict) -> dict[str, bytes]:
    """The image files, each checked against its hash; any other entry refuses the archive."""
    expected = {}
    for image in manifest.get("images", []):
        original, display = _archive_names(image)
        expected[original], expected[display] = image["sha256"], image["display_sha256"]
    extra = sorted(set(archive.namelist()) - set(expected) - {MANIFEST})
    if extra:
        raise BackupError(f"the archive holds files its manifest does not name: {', '.join(extra[:5])}")
    files = {}
    for name, sha256 in expected.items():
        try:
            if archive.getinfo(name).file_size > settings.IMPORT_MAX_FILE_BYTES:
                raise BackupError(f"{name} is larger than the import limit")
            data = archive.read(name)
        except KeyError:
            raise BackupError(f"the archive lacks {name}") from None
        except zipfile.BadZipFile as exc:
            raise BackupError(f"{name} is damaged: {exc}") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BackupError(f"{name} does not match its SHA-256 in the manifest")
        files[name] = data
    return files


def _restore(manifest: dict, files: dict[str, bytes], written: list[str]) -> Study:
    try:
        return _restore_rows(manifest, files, written)
    except BackupError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise BackupError(f"the manifest is malformed: {exc!r}") from None
    except IntegrityError as exc:  # e.g. a public id already used by another study here
        raise BackupError(f"the archive clashes with data on this site: {exc}") from None


def _restore_rows(manifest: dict, files: dict[str, bytes], written: list[str]) -> Study:
    settings_ = manifest["study"]
    if Study.objects.filter(slug=settings_["slug"]).exists():
        raise BackupError(f"a study with slug {settings_['slug']!r} already exists here")
    users = _users(manifest)
    study = _with_times(Study.objects.create(**{k: _parse(k, v) for k, v in settings_.items()}), settings_)
    for m in manifest["memberships"]:
        _with_times(
            StudyMembership.objects.create(
                study=study,
                user=users[m["username"]],
                role=m["role"],
                can_adjudicate=m["can_adjudicate"],
                queue_seed=m["queue_seed"],
                # Added after format version 1 was first written: an older archive has none of them.
                was_adjudicator=m.get("was_adjudicator", m["can_adjudicate"]),
                removed_at=_parse("removed_at", m.get("removed_at")),
                ratings_kept=m.get("ratings_kept", False),
            ),
            m,
        )
    images = {row["sha256"]: _image(row, files, written) for row in manifest["images"]}
    cases = {}
    for c in manifest["cases"]:
        cases[c["public_id"]] = _with_times(
            Case.objects.create(
                study=study,
                image=images[c["image"]] if c["image"] else None,
                public_id=c["public_id"],
                original_filename=c["original_filename"],
                patient_id=c["patient_id"],
                metadata=c["metadata"],
                **{name: c.get(name, "") for name in DICOM_SOURCE_FIELDS},
                excluded_at=_parse("excluded_at", c.get("excluded_at")),
                exclusion_reason=c.get("exclusion_reason", ""),
            ),
            c,
        )
    versions = {}
    for v in manifest["model_versions"]:
        versions[v["number"]] = _with_times(
            ModelVersion.objects.create(
                study=study,
                **{
                    k: v[k]
                    for k in (
                        "number",
                        "backbone",
                        "feature_set",
                        "head",
                        "metrics",
                        "training_cases",
                        "source",
                        "is_active",
                    )
                },
                **{k: v.get(k, type(empty)()) for k, empty in MODEL_VERSION_FIELDS_LATER.items()},
            ),
            v,
        )
    for a in manifest["assignments"]:
        _assignment(study, a, cases, users, versions)
    rater_queues_renumber(study_id=study.pk)
    for a in manifest["adjudications"]:
        _with_times(
            Adjudication.objects.create(
                case=cases[a["case"]],
                adjudicator=users[a["adjudicator"]],
                revision=a["revision"],
                values=a["values"],
                totals=a["totals"],
                note=a["note"],
            ),
            a,
        )
    locked = manifest.get("locked_test_set")  # absent from archives written before issue 16
    if locked:
        kept = LockedTestSet.objects.create(study=study, fraction=locked["fraction"], seed=locked["seed"])
        kept.cases.set([cases[public_id] for public_id in locked["cases"]])
    for p in manifest["predictions"]:
        _with_times(
            Prediction.objects.create(
                case=cases[p["case"]],
                model_version=versions[p["model_version"]],
                values=p["values"],
                **{k: p.get(k, type(empty)()) for k, empty in PREDICTION_FIELDS_LATER.items()},
            ),
            p,
        )
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                study=study,
                actor=users[e["actor"]] if e["actor"] else None,
                action=e["action"],
                target=e["target"],
                details=e["details"],
                created_at=_parse("created_at", e["created_at"]),
            )
            for e in manifest["audit_events"]
        ]
    )
    return study


def _assignment(study: Study, a: dict, cases: dict, users: dict, versions: dict) -> None:
    assignment = _with_times(
        Assignment.objects.create(
            study=study,
            case=cases[a["case"]],
            rater=users[a["rater"]],
            public_id=a["public_id"],
            order_key=a["order_key"],
            aided=a["aided"],
            # Added after format version 1 was first written: an older archive has no repeat reads.
            repeat=a.get("repeat", False),
            available_at=_parse("at", a.get("available_at")),
            available_after_done=a.get("available_after_done"),
            flag_reason=a["flag_reason"],
            flag_note=a["flag_note"],
            flagged_at=_parse("at", a["flagged_at"]),
            completed_at=_parse("at", a["completed_at"]),
        ),
        a,
    )
    for r in a["ratings"]:
        rating = Rating.objects.create(
            assignment=assignment,
            revision=r["revision"],
            values=r["values"],
            totals=r["totals"],
            reading_time_s=r["reading_time_s"],
            source=r["source"],
            client_key=r["client_key"],
            created_at=_parse("created_at", r["created_at"]),
            model_version_shown=versions[r["model_version_shown"]] if r["model_version_shown"] is not None else None,
            prelabel_values=r.get("prelabel_values"),  # added later: an older archive has none
        )
        if r["revision"] == a["current_revision"]:
            Assignment.objects.filter(pk=assignment.pk).update(current_rating=rating)


def _users(manifest: dict) -> dict:
    names = {m["username"] for m in manifest["memberships"]}
    names |= {a["rater"] for a in manifest["assignments"]} | {a["adjudicator"] for a in manifest["adjudications"]}
    names |= {e["actor"] for e in manifest["audit_events"] if e["actor"]}
    for name in names:
        if not isinstance(name, str) or not name or len(name) > 150:
            raise BackupError(f"the manifest names an invalid username {name!r}")
    # Missing users are created with unusable passwords: someone must set one before they log in.
    return {name: user_get_or_create(username=name)[0] for name in sorted(names)}


def _image(row: dict, files: dict[str, bytes], written: list[str]) -> Image:
    known = Image.objects.filter(sha256=row["sha256"]).first()
    if known:
        return known
    original, display = _archive_names(row)
    # The same storage names as an import's (annotation.services.storage): content hash only.
    names = image_file_names(sha256=row["sha256"], extension=row["original_ext"])
    for name, arcname in zip(names, (original, display), strict=True):
        written.append(file_replace(name=name, content=files[arcname]))
    image = Image.objects.create(
        sha256=row["sha256"],
        original=written[-2],
        display=written[-1],
        **{k: row[k] for k in IMAGE_FIELDS if k != "created_at"},
        **{k: row.get(k, default) for k, default in IMAGE_FIELDS_LATER.items()},
    )
    return _with_times(image, row)


def _parse(name: str, value):
    if (name.endswith("_at") or name == "at") and value is not None:
        parsed = parse_datetime(value)
        if parsed is None:
            raise BackupError(f"not a date and time: {value!r}")
        return parsed
    return value


def _with_times(obj, row: dict):
    """Put back the original created_at, which auto_now_add replaced on create."""
    created = _parse("created_at", row.get("created_at"))
    if created is not None:
        type(obj).objects.filter(pk=obj.pk).update(created_at=created)
        obj.created_at = created
    return obj
