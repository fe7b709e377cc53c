"""Import cases from a DICOMweb archive (Orthanc, a PACS): search with QIDO-RS, retrieve with WADO-RS.

Every instance goes through the same per-file checks, limits, display image and import report as an
upload (`images_import`); only the way the bytes arrive differs. The whole selection is searched,
checked and retrieved first, into a temporary folder, and imported only when all of it arrived: an
unreachable archive, refused credentials, an instance that is not an image or a selection above the
archive limits end the import with a reason before any case is written.
"""

import logging
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from django.conf import settings
from django.db import transaction
from pydicom.uid import UID

from annotation.audit import audit_import
from annotation.ingest import Source
from annotation.models import ImportJob, Study
from annotation.services.imports import ImportReport, images_import, quota_check
from annotation.services.studies import StudyStateError
from core.errors import TooLarge
from core.jobs import job_dispatch, job_finish
from core.types import User

logger = logging.getLogger(__name__)

# The modalities of chest X-rays: series of other modalities (a structured report, a CT) in a study
# or a query's result are passed over unless the query names a modality or the series is named.
XRAY_MODALITIES = ("CR", "DX")
# Query keys, as the command line and forms may spell them -> the DICOM attribute searched.
QUERY_KEYS = {
    "modality": "Modality",
    "patientid": "PatientID",
    "patient": "PatientID",
    "studydate": "StudyDate",
    "date": "StudyDate",
    "accessionnumber": "AccessionNumber",
    "accession": "AccessionNumber",
}
DATE_RANGE = re.compile(r"^(\d{8})?(-)?(\d{8})?$")
UID_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)*$")
# WADO-RS: the instance as stored (any transfer syntax), so that its bytes, and their hash, are the
# archive's own.
ACCEPT_DICOM = 'multipart/related; type="application/dicom"; transfer-syntax=*'
CHUNK = 1024 * 1024
STOW_BATCH = 100  # documents per STOW-RS request


class DicomwebError(Exception):
    """An import over DICOMweb that cannot go ahead; str(exc) says why, for the owner."""


@dataclass(frozen=True)
class Archive:
    """Where the archive is and how to log in; the password is never shown, logged or audited."""

    url: str
    username: str = ""
    password: str = field(default="", repr=False)

    @property
    def shown(self) -> str:
        """The URL without any user or password in it, for reports and the audit trail."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True)
class Selection:
    """What to import: whole studies or series by UID, studies by accession number, or a query."""

    study_uids: tuple[str, ...] = ()
    series_uids: tuple[str, ...] = ()
    accession_numbers: tuple[str, ...] = ()
    query: dict[str, str] = field(default_factory=dict)  # DICOM keyword -> value (query_parse)

    def is_empty(self) -> bool:
        return not (self.study_uids or self.series_uids or self.accession_numbers or self.query)

    def as_dict(self) -> dict:
        return {
            "study_uids": list(self.study_uids),
            "series_uids": list(self.series_uids),
            "accession_numbers": list(self.accession_numbers),
            "query": dict(self.query),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Selection":
        return cls(
            study_uids=tuple(data.get("study_uids", ())),
            series_uids=tuple(data.get("series_uids", ())),
            accession_numbers=tuple(data.get("accession_numbers", ())),
            query=dict(data.get("query", {})),
        )


@dataclass(frozen=True)
class Instance:
    study_uid: str
    series_uid: str
    sop_instance_uid: str
    sop_class_uid: str


def archive_from_settings(*, url: str = "", username: str | None = None, password: str | None = None) -> Archive:
    """The archive of DICOMWEB_URL (or `url`), with DICOMWEB_USERNAME and DICOMWEB_PASSWORD unless given."""
    url = (url or settings.DICOMWEB_URL).strip()
    if not url:
        raise DicomwebError("no archive: give its DICOMweb URL (or set DICOMWEB_URL)")
    if urlsplit(url).scheme not in ("http", "https"):
        raise DicomwebError("the archive's URL must start with http:// or https://")
    username = settings.DICOMWEB_USERNAME if username is None else username
    password = settings.DICOMWEB_PASSWORD if password is None else password
    return Archive(url=url, username=username, password=password)


def query_parse(pairs: list[str]) -> dict[str, str]:
    """["modality=CR", "date=20200101-20201231", "patient=P1"] -> DICOM keywords and values, checked."""
    query: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        keyword = QUERY_KEYS.get(key.strip().lower().replace("_", "").replace(" ", ""))
        if not equals or keyword is None:
            known = ", ".join(sorted({"modality", "patient_id", "study_date", "accession_number"}))
            raise DicomwebError(f"query {pair!r}: use key=value with a key among {known}")
        query[keyword] = value.strip()
    modalities = query.get("Modality", "")
    if modalities and not all(m in XRAY_MODALITIES for m in _modalities(modalities)):
        raise DicomwebError(f"modality {modalities!r}: chest X-rays are {' or '.join(XRAY_MODALITIES)}")
    date = query.get("StudyDate")
    if date is not None and not (DATE_RANGE.match(date) and date.strip("-")):
        raise DicomwebError(f"study date {date!r}: give YYYYMMDD or a range YYYYMMDD-YYYYMMDD (either end open)")
    return query


def _modalities(value: str) -> list[str]:
    return [m.strip().upper() for m in re.split(r"[,\\]", value) if m.strip()]


def dicomweb_import(*, study: Study, archive: Archive, selection: Selection, actor=None) -> ImportReport:
    """Import the selection's images into the study, or raise DicomwebError saying why nothing was.

    The import is recorded in the audit trail either way, naming the archive without credentials."""
    via = f"DICOMweb {archive.shown}"
    try:
        report = _import(study=study, archive=archive, selection=selection)
    except (DicomwebError, StudyStateError, TooLarge) as exc:
        reason = f"nothing imported: {exc}"
        audit_import(study=study, actor=actor, rows=[], via=via, error=reason)
        raise DicomwebError(reason) from None
    audit_import(study=study, actor=actor, rows=[row.as_dict() for row in report.rows], via=via)
    return report


def dicomweb_import_job_create(*, study: Study, user: User, selection: Selection) -> ImportJob:
    """Queue an import from the archive of the settings (DICOMWEB_URL and its credentials: a page never
    handles them); the worker is told once the job is committed. Refused at once, with the reason, when
    the study is locked, nothing is selected or no archive is configured."""
    if study.is_locked:
        raise StudyStateError("the study is locked: no images can be added")
    _selection_check(selection)
    archive_from_settings()
    with transaction.atomic():
        job = ImportJob.objects.create(
            study=study, created_by=user, upload_dir="", total=0, dicomweb_selection=selection.as_dict()
        )
        job_dispatch(job=job)  # a broker outage leaves it QUEUED: requeue_jobs
    return job


def dicomweb_job_execute(*, job: ImportJob) -> ImportJob:
    """Run a claimed DICOMweb import job (imports.import_job_execute hands it over) to DONE, or FAILED
    with the reason. Run again after a worker died, it imports the whole selection again: what the
    first attempt imported is found as duplicates."""
    try:
        report = dicomweb_import(
            study=job.study,
            archive=archive_from_settings(),
            selection=Selection.from_dict(job.dicomweb_selection),
            actor=job.created_by_id,
        )
    except DicomwebError as exc:
        job_finish(job=job, error=str(exc)[:2000])
        return job
    except Exception as exc:  # noqa: BLE001 - a job ends FAILED with its reason, never stays RUNNING
        logger.exception("DICOMweb import job %s failed", job.pk)
        job_finish(job=job, error=f"the import stopped: {type(exc).__name__}: {exc}"[:2000])
        return job
    job.report = [row.as_dict() for row in report.rows]
    job.total = job.done = sum(1 for row in report.rows if row.status != "metadata")
    job_finish(job=job, fields=("report", "total", "done"))
    return job


def _import(*, study: Study, archive: Archive, selection: Selection) -> ImportReport:
    if study.is_locked:
        raise StudyStateError("the study is locked: no images can be added")
    _selection_check(selection)
    with _session(archive) as session:
        client = _client(archive, session)
        instances = _search(client, selection, archive=archive)
        _check_selection(instances)
        with tempfile.TemporaryDirectory(prefix="dicomweb-") as folder:
            sources = _retrieve(session, archive=archive, instances=instances, folder=Path(folder))
            stored = sum(path.stat().st_size for path, _ in sources if path.exists())
            quota_check(study=study, adding=stored)  # refused whole, as an upload over the quota is
            return images_import(study=study, sources=_sources(sources))


def _selection_check(selection: Selection) -> None:
    if selection.is_empty():
        raise DicomwebError("nothing selected: give study or series UIDs, accession numbers or a query")
    for uid in (*selection.study_uids, *selection.series_uids):
        if not UID_PATTERN.match(uid) or len(uid) > 64:
            raise DicomwebError(f"{uid[:80]!r} is not a DICOM UID")


def _session(archive: Archive) -> requests.Session:
    session = requests.Session()
    if archive.username or archive.password:
        session.auth = (archive.username, archive.password)
    session.trust_env = False  # no proxy or .netrc credentials from the environment of the worker
    return session


def _client(archive: Archive, session: requests.Session):
    from dicomweb_client.api import DICOMwebClient

    client = DICOMwebClient(url=archive.url.rstrip("/"), session=session, timeout=settings.DICOMWEB_TIMEOUT_S)
    client.set_http_retry_params(retry=False)  # a refusal or an outage is reported, not waited out
    return client


# --- QIDO-RS: what the selection holds ---------------------------------------------------------------


def _search(client, selection: Selection, *, archive: Archive) -> list[Instance]:
    """Every instance of the selection, each once, after checking that it fits the limits."""
    series: dict[str, str] = {}  # series UID -> study UID
    for study_uid in selection.study_uids:
        series.update(_series_of_study(client, study_uid, modalities=XRAY_MODALITIES, archive=archive))
    for series_uid in selection.series_uids:
        found = _call(client.search_for_series, archive, search_filters={"SeriesInstanceUID": series_uid})
        if not found:
            raise DicomwebError(f"the archive has no series {series_uid}")
        series[series_uid] = _value(found[0], "0020000D")
        if not UID_PATTERN.match(series[series_uid]):
            raise DicomwebError(f"the archive did not say which study series {series_uid} belongs to")
    studies = [{"AccessionNumber": number} for number in selection.accession_numbers]
    if selection.query:
        studies.append({key: value for key, value in selection.query.items() if key != "Modality"})
    modalities = tuple(_modalities(selection.query.get("Modality", ""))) or XRAY_MODALITIES
    for filters in studies:
        found = _call(client.search_for_studies, archive, search_filters=filters, get_remaining=True)
        if not found:
            raise DicomwebError(f"the archive has no study matching {_shown_filters(filters)}")
        for item in found:
            series.update(_series_of_study(client, _value(item, "0020000D"), modalities=modalities, archive=archive))
    if not series:
        raise DicomwebError(f"the selection holds no {' or '.join(modalities)} series")
    instances: dict[str, Instance] = {}
    limit = settings.IMPORT_MAX_ARCHIVE_MEMBERS
    for series_uid, study_uid in series.items():
        for item in _call(
            client.search_for_instances,
            archive,
            study_instance_uid=study_uid,
            series_instance_uid=series_uid,
            get_remaining=True,
        ):
            uid = _value(item, "00080018")
            instances[uid] = Instance(study_uid, series_uid, uid, _value(item, "00080016"))
        if len(instances) > limit:
            raise DicomwebError(
                f"the selection holds more than {limit:,} instances, the limit of one import "
                "(IMPORT_MAX_ARCHIVE_MEMBERS); import it in parts"
            )
    return list(instances.values())


def _series_of_study(client, study_uid: str, *, modalities: tuple[str, ...], archive: Archive) -> dict[str, str]:
    if not UID_PATTERN.match(study_uid):
        raise DicomwebError(f"the archive named a study {study_uid!r} that is not a DICOM UID")
    found = _call(client.search_for_series, archive, study_instance_uid=study_uid, get_remaining=True)
    if not found:
        raise DicomwebError(f"the archive has no study {study_uid}")
    return {_value(item, "0020000E"): study_uid for item in found if _value(item, "00080060") in modalities}


def _check_selection(instances: list[Instance]) -> None:
    """Refuse the whole selection when any instance is not an image: a structured report or a
    presentation state in it means the selection is not what the owner thought."""
    others = [instance for instance in instances if not _is_image_storage(instance.sop_class_uid)]
    if others:
        first = others[0]
        kind = UID(first.sop_class_uid).name if first.sop_class_uid else "no SOP class"
        raise DicomwebError(
            f"the selection holds {len(others)} instance(s) that are not images ({kind} in series "
            f"{first.series_uid}); select the image series only (by series UID, or "
            f"a query with modality={'/'.join(XRAY_MODALITIES)})"
        )


def _is_image_storage(sop_class_uid: str) -> bool:
    return bool(sop_class_uid) and "Image Storage" in UID(sop_class_uid).name


def _value(item: dict, tag: str) -> str:
    """One string value of a DICOM JSON attribute ("" when absent)."""
    values = (item.get(tag) or {}).get("Value") or [""]
    return str(values[0]).strip()


def _shown_filters(filters: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in filters.items()) or "(any)"


def _call(method, archive: Archive, **kwargs):
    """A dicomweb-client call, its failures said in words an owner can act on."""
    try:
        return method(**kwargs)
    except requests.HTTPError as exc:
        raise DicomwebError(_http_reason(exc.response, archive)) from None
    except requests.RequestException as exc:
        raise DicomwebError(_unreachable(exc, archive)) from None
    except ValueError as exc:  # an answer that is not DICOM JSON
        raise DicomwebError(f"the archive at {archive.shown} answered something that is not DICOMweb: {exc}") from None


def _http_reason(response: requests.Response | None, archive: Archive) -> str:
    status = response.status_code if response is not None else 0
    if status in (401, 403):
        return (
            f"the archive at {archive.shown} refused the credentials (HTTP {status}): check the user name and "
            "password (DICOMWEB_USERNAME, DICOMWEB_PASSWORD)"
        )
    if status == 404:
        return f"the archive at {archive.shown} has no DICOMweb service at this URL (HTTP 404)"
    return f"the archive at {archive.shown} answered HTTP {status}"


def _unreachable(exc: requests.RequestException, archive: Archive) -> str:
    what = "did not answer in time" if isinstance(exc, requests.Timeout) else "cannot be reached"
    return f"the archive at {archive.shown} {what} ({type(exc).__name__})"


# --- WADO-RS: the instances' bytes --------------------------------------------------------------------


def _retrieve(
    session: requests.Session, *, archive: Archive, instances: list[Instance], folder: Path
) -> list[tuple[Path, Instance]]:
    """Every instance into `folder` (a file above IMPORT_MAX_FILE_BYTES as a marker only, rejected
    by the import); the whole selection is refused once its bytes pass IMPORT_MAX_ARCHIVE_BYTES."""
    total, out = 0, []
    for index, instance in enumerate(instances):
        path = folder / f"{index:06d}.dcm"
        size = _download(session, archive=archive, instance=instance, path=path)
        total += size
        if total > settings.IMPORT_MAX_ARCHIVE_BYTES:
            raise DicomwebError(
                f"the selection is larger than {settings.IMPORT_MAX_ARCHIVE_BYTES:,} bytes, the limit of one import "
                "(IMPORT_MAX_ARCHIVE_BYTES); import it in parts"
            )
        out.append((path, instance))
    return out


def _download(session: requests.Session, *, archive: Archive, instance: Instance, path: Path) -> int:
    """Write the instance's DICOM bytes to `path`; returns their size (the bytes received, for a file
    cut off at the per-file limit)."""
    url = "/".join(
        [
            archive.url.rstrip("/"),
            "studies",
            quote(instance.study_uid),
            "series",
            quote(instance.series_uid),
            "instances",
            quote(instance.sop_instance_uid),
        ]
    )
    limit = settings.IMPORT_MAX_FILE_BYTES
    try:
        with session.get(
            url, headers={"Accept": ACCEPT_DICOM}, stream=True, timeout=settings.DICOMWEB_TIMEOUT_S
        ) as response:
            if response.status_code != 200:
                raise DicomwebError(_http_reason(response, archive))
            body, cut = bytearray(), False
            for chunk in response.iter_content(CHUNK):
                body += chunk
                if len(body) > limit + 64 * 1024:  # room for the multipart headers around the file
                    cut = True
                    break
            content_type = response.headers.get("Content-Type", "")
    except requests.RequestException as exc:
        raise DicomwebError(_unreachable(exc, archive)) from None
    data = b"" if cut else _single_part(bytes(body), content_type, instance=instance)
    if cut or len(data) > limit:  # rejected by the import, like an upload's file above the limit
        path.with_suffix(".too-large").touch()
        return len(body)
    path.write_bytes(data)
    return len(data)


def _single_part(body: bytes, content_type: str, *, instance: Instance) -> bytes:
    """The one DICOM file of a WADO-RS answer (multipart/related; a bare application/dicom too)."""
    media_type, _, parameters = content_type.partition(";")
    if media_type.strip().lower() == "application/dicom":
        return body
    boundary = next(
        (
            value.strip().strip('"')
            for name, _, value in (part.partition("=") for part in parameters.split(";"))
            if name.strip().lower() == "boundary"
        ),
        "",
    )
    if media_type.strip().lower() != "multipart/related" or not boundary:
        raise DicomwebError(f"the archive sent instance {instance.sop_instance_uid} as {media_type or 'nothing'}")
    parts = [part for part in body.split(b"--" + boundary.encode()) if part.strip() not in (b"", b"--")]
    if len(parts) != 1:
        raise DicomwebError(f"the archive sent {len(parts)} parts for instance {instance.sop_instance_uid}")
    _, separator, data = parts[0].partition(b"\r\n\r\n")
    if not separator:
        raise DicomwebError(f"the archive sent a malformed part for instance {instance.sop_instance_uid}")
    return data[:-2] if data.endswith(b"\r\n") else data


def _sources(files: list[tuple[Path, Instance]]) -> Iterator[Source]:
    for path, instance in files:
        name = f"{instance.sop_instance_uid}.dcm"
        where = f"DICOMweb: series {instance.series_uid}, instance {instance.sop_instance_uid}"
        if path.with_suffix(".too-large").exists():
            limit = settings.IMPORT_MAX_FILE_BYTES
            yield Source(name=name, where=where, rejection=f"file too large: above the limit of {limit:,} bytes")
        else:
            yield Source(name=name, where=where, data=path.read_bytes())


# --- STOW-RS: documents into the archive ----------------------------------------------------------


def dicomweb_store(*, archive: Archive, datasets: list) -> int:
    """Store DICOM datasets in the archive (STOW-RS); returns how many it accepted, or raises
    DicomwebError naming what it refused."""
    stored = 0
    with _session(archive) as session:
        client = _client(archive, session)
        for start in range(0, len(datasets), STOW_BATCH):  # one request per batch, not one huge body
            batch = datasets[start : start + STOW_BATCH]
            answer = _call(client.store_instances, archive, datasets=batch)
            failed = answer.get("FailedSOPSequence") or []
            if failed:
                reasons = sorted({str(item.get("FailureReason", "?")) for item in failed})
                raise DicomwebError(
                    f"the archive at {archive.shown} refused {len(failed)} documents (failure reason "
                    f"{', '.join(reasons)}); {stored + len(batch) - len(failed)} of {len(datasets)} were stored"
                )
            stored += len(batch)
    return stored
