"""Gather files to import from paths, folders and zip archives, refusing unsafe archives.

No database access: this module turns what a user handed us into a stream of `Source`s, each either
bytes to decode or a rejection with its reason. Services decide what to store.
"""

import csv
import io
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".dcm", ".dicom", ""}
IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
# Any .csv among the files is read as a metadata table (it must have a filename column).
METADATA_SUFFIX = ".csv"
FILENAME_COLUMN = "filename"
# The patient id's column, compared without case, spaces or underscores: the COVID-19 image data
# collection writes "patientid"; spreadsheets "Patient ID" or "patient_id".
PATIENT_ID_COLUMN = "patientid"


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_archive_bytes: int
    max_archive_members: int


@dataclass(frozen=True)
class Source:
    name: str  # as the uploader knows it: the base filename, used to match metadata and ratings
    where: str  # where it came from, for the report ("scans.zip: a/b.png")
    data: bytes | None = None
    rejection: str | None = None
    is_metadata: bool = False  # a .csv: read as a metadata table, never decoded as an image


class MetadataError(ValueError):
    """A metadata CSV that cannot be used as a whole; the message says why."""


def sources_from_paths(paths: list[Path], *, limits: Limits) -> Iterator[Source]:
    for path in paths:
        if path.is_symlink():
            yield _rejected(path.name, str(path), "symbolic link, not followed")
        elif path.is_dir():
            yield from _sources_from_folder(path, limits=limits)
        elif path.is_file():
            yield from _sources_from_file(path.name, str(path), path.open("rb"), path.stat().st_size, limits=limits)
        else:
            yield _rejected(path.name, str(path), "no such file or folder")


def sources_from_upload(name: str, fileobj, size: int, *, limits: Limits) -> Iterator[Source]:
    yield from _sources_from_file(PurePosixPath(name).name, name, fileobj, size, limits=limits)


def _sources_from_folder(folder: Path, *, limits: Limits) -> Iterator[Source]:
    for path in sorted(folder.rglob("*")):
        where = str(path)
        if path.name in IGNORED_NAMES or any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        if path.is_symlink():
            yield _rejected(path.name, where, "symbolic link, not followed")
        elif path.is_file():
            yield from _sources_from_file(path.name, where, path.open("rb"), path.stat().st_size, limits=limits)


def _sources_from_file(name: str, where: str, fileobj, size: int, *, limits: Limits) -> Iterator[Source]:
    with fileobj:
        head = fileobj.read(4)
        fileobj.seek(0)
        if name.lower().endswith(".zip") or head == b"PK\x03\x04":
            yield from _sources_from_zip(name, fileobj, limits=limits)
            return
        if size > limits.max_file_bytes:
            yield _rejected(name, where, f"file too large: {size:,} bytes (limit {limits.max_file_bytes:,})")
            return
        yield Source(name=name, where=where, data=fileobj.read(), is_metadata=is_metadata_name(name))


def _sources_from_zip(name: str, fileobj, *, limits: Limits) -> Iterator[Source]:
    try:
        archive = zipfile.ZipFile(fileobj)
    except UnicodeDecodeError:
        # A member flagged as UTF-8 whose name is not: Python cannot list the archive at all.
        yield _rejected(name, name, "a file name in the zip archive is flagged as UTF-8 but is not: re-create the zip")
        return
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        yield _rejected(name, name, f"corrupt zip archive: {exc}")
        return
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        problem = _archive_problem(members, limits=limits)
        if problem:
            yield _rejected(name, name, problem)
            return
        for info in members:
            yield from _source_from_member(name, archive, info, limits=limits)


def _archive_problem(members: list[zipfile.ZipInfo], *, limits: Limits) -> str | None:
    if len(members) > limits.max_archive_members:
        return f"archive has {len(members):,} files (limit {limits.max_archive_members:,})"
    declared = sum(info.file_size for info in members)
    if declared > limits.max_archive_bytes:
        return f"archive unpacks to {declared:,} bytes (limit {limits.max_archive_bytes:,})"
    return None


def _source_from_member(
    archive_name: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, limits: Limits
) -> Iterator[Source]:
    path = PurePosixPath(info.filename.replace("\\", "/"))
    where = f"{archive_name}: {info.filename}"
    # Before the hidden-folder skip below: '..' starts with a dot, and a traversal must be reported.
    if _is_unsafe_member_path(info.filename):
        yield _rejected(path.name, where, "unsafe path in archive (absolute or '..'), not extracted")
        return
    if path.name in IGNORED_NAMES or any(part.startswith(".") or part == "__MACOSX" for part in path.parts[:-1]):
        return
    if path.name.startswith("._"):
        return  # macOS resource forks
    if stat.S_ISLNK(info.external_attr >> 16):
        yield _rejected(path.name, where, "symbolic link in archive, not followed")
        return
    if path.suffix.lower() == ".zip":
        yield _rejected(path.name, where, "archive inside an archive, not imported")
        return
    if info.file_size > limits.max_file_bytes:
        yield _rejected(path.name, where, f"file too large: {info.file_size:,} bytes (limit {limits.max_file_bytes:,})")
        return
    try:
        # ZipExtFile never returns more than the declared size, and checks the CRC at the end.
        data = archive.read(info)
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, EOFError) as exc:
        yield _rejected(path.name, where, f"corrupt archive member: {exc}")
        return
    yield Source(name=path.name, where=where, data=data, is_metadata=is_metadata_name(path.name))


def is_metadata_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() == METADATA_SUFFIX


def _is_unsafe_member_path(filename: str) -> bool:
    normalised = filename.replace("\\", "/")
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        return True
    return ".." in normalised.split("/")


def _rejected(name: str, where: str, reason: str) -> Source:
    return Source(name=name, where=where, rejection=reason)


def metadata_parse(data: bytes) -> dict[str, dict[str, str]]:
    """Rows of a metadata CSV keyed by its `filename` column (the COVID-19 image data collection's
    format; any other columns are kept as they are)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MetadataError(f"metadata CSV is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    if "\x00" in text:  # PostgreSQL refuses NUL in text, and no CSV editor writes one
        raise MetadataError("metadata CSV contains NUL bytes: it is not a text CSV")
    try:
        return _metadata_rows(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:  # a field beyond the csv module's size limit, a stray quote
        raise MetadataError(f"metadata CSV is not readable: {exc}") from None


def _metadata_rows(reader: csv.DictReader) -> dict[str, dict[str, str]]:
    columns = [name for name in reader.fieldnames or [] if name is not None]
    column = next((name for name in columns if name.strip().lower() == FILENAME_COLUMN), None)
    if column is None:
        raise MetadataError(_no_filename_column(columns))
    rows: dict[str, dict[str, str]] = {}
    for line, row in enumerate(reader, start=2):
        filename = (row.get(column) or "").strip()
        if not filename:
            if not any(isinstance(value, str) and value.strip() for value in row.values()):
                continue  # a blank line, as spreadsheets leave at the end
            raise MetadataError(f"metadata CSV line {line}: empty filename")
        if filename in rows:
            raise MetadataError(f"metadata CSV line {line}: filename {filename!r} appears twice")
        # Kept under the column names of the file, the filename column as "filename" whatever its case.
        kept = {key.strip(): (value or "").strip() for key, value in row.items() if key and key != column}
        rows[filename] = {FILENAME_COLUMN: filename, **{key: value for key, value in kept.items() if key}}
    return rows


def _no_filename_column(columns: list[str]) -> str:
    reason = "a CSV needs a filename column to be read as metadata: "
    if not columns:
        return reason + "this one is empty"
    shown = ", ".join(repr(name) for name in columns[:8]) + (", ..." if len(columns) > 8 else "")
    reason += f"this one has {shown}"
    if {"image", "rater"} <= {name.strip().lower() for name in columns}:
        reason += " (a ratings file: import it with Import ratings, not with the images)"
    return reason


def metadata_patient_id(row: dict[str, str]) -> str:
    """The patient id of a metadata row: its patientid column (or patient_id, Patient ID, PatientID)."""
    for key, value in row.items():
        if key.lower().replace("_", "").replace(" ", "") == PATIENT_ID_COLUMN and value:
            return value
    return ""
