"""Importing a batch: every bad file is rejected with its own reason, the good ones still import,
and nothing half-written (rows or files under MEDIA_ROOT) is left behind for a rejected file.

Files are generated in tmp_path and go through the same path the CLI uses:
images_import(sources=sources_from_paths([...], limits=import_limits())). The web upload tests go
through /studies/<slug>/upload/ and the import job page.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, IntegrityError
from django.urls import reverse
from PIL import Image as PILImage
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from annotation.ingest import sources_from_paths
from annotation.models import Case, Image, ImportJob
from annotation.services import StudyStateError, images_import, import_job_create, import_limits, study_lock
from tests.conftest import png_bytes, zip_bytes

pytestmark = pytest.mark.django_db


# --- builders ------------------------------------------------------------------------------------


def jpeg_bytes(seed: int = 0, size: tuple[int, int] = (64, 48)) -> bytes:
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 255, size=(size[1], size[0]), dtype=np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(array, "L").save(out, format="JPEG", quality=90)
    return out.getvalue()


def truncated_jpeg() -> bytes:
    data = jpeg_bytes(seed=99)
    return data[: len(data) // 2]


def corrupt_png() -> bytes:
    """A PNG with the right signature and header whose image data is damaged (CRC and zlib)."""
    data = bytearray(png_bytes(seed=98))
    idat = data.index(b"IDAT")
    for offset in range(idat + 20, idat + 60):
        data[offset] ^= 0xFF
    return bytes(data)


def dicom_bytes(*, with_pixels: bool = True, patient_name: str = "DOE^JANE", seed: int = 0) -> bytes:
    """A Part 10 DICOM file (DICM preamble), 16-bit MONOCHROME2, optionally without PixelData."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = patient_name
    ds.PatientID = "DOE-4711"
    ds.Modality = "DX"
    ds.Rows, ds.Columns = 40, 32
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    if with_pixels:
        rng = np.random.default_rng(seed)
        ds.PixelData = rng.integers(0, 4096, size=(40, 32), dtype=np.uint16).tobytes()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    data = out.getvalue()
    assert data[128:132] == b"DICM"
    return data


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def run_import(study, paths: list[Path]):
    return images_import(study=study, sources=sources_from_paths(list(paths), limits=import_limits()))


def rows_by_status(report, status: str) -> dict[str, str]:
    """{where: reason} for the report's rows with this status."""
    return {row.where: row.reason for row in report.rows if row.status == status}


def rejected_names(report) -> dict[str, str]:
    return {row.name: row.reason for row in report.rows if row.status == "rejected"}


def media_files(settings) -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    if not root.exists():
        return set()
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def stored_files() -> set[str]:
    """The files that the Image rows point at: exactly what MEDIA_ROOT should hold after an import."""
    names = set()
    for image in Image.objects.all():
        names.update({image.original.name, image.display.name})
    return names


def all_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def assert_only_good_imports_remain(settings, study, expected_filenames: set[str]) -> None:
    assert set(study.cases.values_list("original_filename", flat=True)) == expected_filenames
    assert Case.objects.count() == len(expected_filenames)
    assert Image.objects.count() == len(expected_filenames)
    assert media_files(settings) == stored_files()
    assert len(media_files(settings)) == 2 * len(expected_filenames)  # an original and a display PNG each


@pytest.fixture
def study(make_study):
    return make_study(n_cases=0, open_it=False)


@pytest.fixture
def incoming(tmp_path) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    return folder


# --- single bad files ----------------------------------------------------------------------------


def test_truncated_jpeg_is_rejected_and_the_good_jpeg_imports(settings, study, incoming):
    good = write(incoming / "good.jpg", jpeg_bytes(seed=1))
    bad = write(incoming / "truncated.jpg", truncated_jpeg())

    report = run_import(study, [bad, good])

    assert report.count("imported") == 1
    assert "truncated" in rejected_names(report)["truncated.jpg"]
    assert_only_good_imports_remain(settings, study, {"good.jpg"})


def test_corrupt_png_is_rejected_with_a_reason(settings, study, incoming):
    good = write(incoming / "good.png", png_bytes(1))
    bad = write(incoming / "corrupt.png", corrupt_png())

    report = run_import(study, [bad, good])

    assert rejected_names(report)["corrupt.png"].startswith("corrupt")
    assert_only_good_imports_remain(settings, study, {"good.png"})


def test_text_file_named_png_is_rejected_as_not_an_image(settings, study, incoming):
    good = write(incoming / "good.png", png_bytes(1))
    bad = write(incoming / "notes.png", b"this is not an image, just some text\n" * 10)

    report = run_import(study, [bad, good])

    assert rejected_names(report)["notes.png"] == "not a PNG, JPEG or DICOM file"
    assert_only_good_imports_remain(settings, study, {"good.png"})


def test_empty_file_is_rejected_as_empty(settings, study, incoming):
    good = write(incoming / "good.png", png_bytes(1))
    bad = write(incoming / "empty.png", b"")

    report = run_import(study, [bad, good])

    assert rejected_names(report)["empty.png"] == "empty file"
    assert_only_good_imports_remain(settings, study, {"good.png"})


def test_decompression_bomb_is_rejected_from_its_dimensions(settings, study, incoming):
    settings.IMPORT_MAX_IMAGE_PIXELS = 1000  # 64 x 48 = 3072 pixels is "too large" now
    bomb = write(incoming / "bomb.png", png_bytes(1, size=(64, 48)))
    small = write(incoming / "small.png", png_bytes(2, size=(20, 20)))

    report = run_import(study, [bomb, small])

    reason = rejected_names(report)["bomb.png"]
    assert "too large" in reason and "64x48" in reason
    assert_only_good_imports_remain(settings, study, {"small.png"})


def test_file_above_the_size_limit_is_rejected_before_decoding(settings, study, incoming):
    big_data, small_data = png_bytes(1, size=(64, 48)), png_bytes(2, size=(8, 8))
    settings.IMPORT_MAX_FILE_BYTES = len(small_data) + 100
    assert len(big_data) > settings.IMPORT_MAX_FILE_BYTES
    big = write(incoming / "big.png", big_data)
    small = write(incoming / "small.png", small_data)
    archive = write(
        incoming / "scans.zip",
        zip_bytes({"big-in-zip.png": png_bytes(3, size=(64, 48)), "small-in-zip.png": png_bytes(4, size=(8, 8))}),
    )

    report = run_import(study, [big, small, archive])

    rejected = rejected_names(report)
    assert rejected["big.png"].startswith("file too large")
    assert rejected["big-in-zip.png"].startswith("file too large")
    assert_only_good_imports_remain(settings, study, {"small.png", "small-in-zip.png"})


def test_dicom_without_pixel_data_is_rejected(settings, study, incoming):
    bad = write(incoming / "no-pixels.dcm", dicom_bytes(with_pixels=False))
    good = write(incoming / "good.dcm", dicom_bytes(seed=3))

    report = run_import(study, [bad, good])

    assert rejected_names(report)["no-pixels.dcm"] == "DICOM without pixel data"
    assert_only_good_imports_remain(settings, study, {"good.dcm"})


def test_16_bit_dicom_imports_without_patient_name_or_filename_in_the_stored_display(settings, study, incoming):
    path = write(incoming / "DOE_JANE_chest.dcm", dicom_bytes(patient_name="DOE^JANE"))

    report = run_import(study, [path])

    assert report.count("imported") == 1, report.rows
    image = Image.objects.get()
    assert image.source_format == "dicom"
    assert image.bit_depth == 12
    assert (image.width, image.height) == (32, 40)
    with image.display.open("rb") as handle:
        display = handle.read()
    assert display.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"DOE" not in display.upper() and b"JANE" not in display.upper()
    assert b"DOE_JANE_chest" not in display
    for name in (image.display.name, image.original.name):
        assert "DOE" not in name.upper() and "JANE" not in name.upper()
        assert "chest" not in name
    for name in media_files(settings):
        assert "DOE" not in name.upper() and "chest" not in name
    assert Case.objects.get().original_filename == "DOE_JANE_chest.dcm"  # kept for owners only


# --- archives --------------------------------------------------------------------------------------


def test_zip_path_traversal_members_are_rejected_and_the_good_member_imports(settings, study, incoming, tmp_path):
    archive = write(
        incoming / "traversal.zip",
        zip_bytes({"../evil.png": png_bytes(1), "/etc/x.png": png_bytes(2), "scans/good.png": png_bytes(3)}),
    )
    with zipfile.ZipFile(archive) as check:  # the names really are unsafe in the archive
        assert {"../evil.png", "/etc/x.png"} <= set(check.namelist())
    before = all_files(tmp_path)

    report = run_import(study, [archive])

    rejected = rows_by_status(report, "rejected")
    assert "unsafe path" in rejected["traversal.zip: ../evil.png"]
    assert "unsafe path" in rejected["traversal.zip: /etc/x.png"]
    assert_only_good_imports_remain(settings, study, {"good.png"})
    # Nothing written outside MEDIA_ROOT: the only new files under tmp_path are the stored ones.
    new = all_files(tmp_path) - before
    assert new == {f"media/{name}" for name in stored_files()}
    assert not (tmp_path / "evil.png").exists() and not (incoming.parent / "evil.png").exists()


def test_zip_symlink_member_is_rejected_and_not_followed(settings, study, incoming):
    target = write(incoming.parent / "outside" / "secret.png", png_bytes(7))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        link = zipfile.ZipInfo("link.png")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, str(target))
        zf.writestr("good.png", png_bytes(1))
    archive = write(incoming / "links.zip", out.getvalue())

    report = run_import(study, [archive])

    assert "symbolic link" in rejected_names(report)["link.png"]
    assert_only_good_imports_remain(settings, study, {"good.png"})


def test_nested_zip_is_rejected_and_the_outer_members_import(settings, study, incoming):
    inner = zip_bytes({"inner-good.png": png_bytes(5)})
    archive = write(incoming / "outer.zip", zip_bytes({"inner.zip": inner, "outer-good.png": png_bytes(6)}))

    report = run_import(study, [archive])

    assert "archive inside an archive" in rejected_names(report)["inner.zip"]
    assert_only_good_imports_remain(settings, study, {"outer-good.png"})


def test_corrupt_zip_is_rejected_and_other_files_import(settings, study, incoming):
    rng = np.random.default_rng(0)
    bad = write(incoming / "broken.zip", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    also_bad = write(incoming / "cut.zip", zip_bytes({"a.png": png_bytes(8), "b.png": png_bytes(9)})[:200])
    good = write(incoming / "good.png", png_bytes(1))

    report = run_import(study, [bad, also_bad, good])

    rejected = rejected_names(report)
    assert rejected["broken.zip"].startswith("corrupt zip archive")
    assert rejected["cut.zip"].startswith("corrupt zip archive")
    assert_only_good_imports_remain(settings, study, {"good.png"})


def test_archive_declaring_more_than_the_archive_limit_is_rejected_whole(settings, study, incoming):
    members = {"a.png": png_bytes(1), "b.png": png_bytes(2)}
    settings.IMPORT_MAX_ARCHIVE_BYTES = sum(len(v) for v in members.values()) - 1
    archive = write(incoming / "huge.zip", zip_bytes(members))
    good = write(incoming / "good.png", png_bytes(3))

    report = run_import(study, [archive, good])

    assert rejected_names(report)["huge.zip"].startswith("archive unpacks to")
    assert_only_good_imports_remain(settings, study, {"good.png"})


def test_archive_with_more_members_than_the_limit_is_rejected_whole(settings, study, incoming):
    settings.IMPORT_MAX_ARCHIVE_MEMBERS = 2
    archive = write(incoming / "many.zip", zip_bytes({f"m{i}.png": png_bytes(10 + i, size=(8, 8)) for i in range(3)}))
    good = write(incoming / "good.png", png_bytes(3))

    report = run_import(study, [archive, good])

    assert "archive has 3 files" in rejected_names(report)["many.zip"]
    assert_only_good_imports_remain(settings, study, {"good.png"})


# --- duplicates and filename clashes ---------------------------------------------------------------


def test_same_content_twice_in_one_batch_is_imported_once_and_reported_as_duplicate(settings, study, incoming):
    data = png_bytes(1)
    write(incoming / "visit1" / "scan.png", data)
    write(incoming / "visit2" / "scan.png", data)

    report = run_import(study, [incoming])

    assert report.count("imported") == 1
    duplicates = [row for row in report.rows if row.status == "duplicate"]
    assert len(duplicates) == 1
    assert duplicates[0].reason == "same image as scan.png"
    assert_only_good_imports_remain(settings, study, {"scan.png"})


def test_same_content_under_two_names_is_stored_once_and_the_second_named_as_duplicate_of_the_first(
    settings, study, incoming
):
    data = png_bytes(1)
    first = write(incoming / "first.png", data)
    second = write(incoming / "second.png", data)

    report = run_import(study, [first, second])

    assert [(row.name, row.status) for row in report.rows] == [("first.png", "imported"), ("second.png", "duplicate")]
    assert report.rows[1].reason == "same image as first.png"
    assert_only_good_imports_remain(settings, study, {"first.png"})

    # A later batch with the same content is a duplicate too, and still stores nothing new.
    third = write(incoming / "later" / "third.png", data)
    report = run_import(study, [third])
    assert [(row.status, row.reason) for row in report.rows] == [("duplicate", "same image as first.png")]
    assert_only_good_imports_remain(settings, study, {"first.png"})


def test_two_different_images_with_the_same_filename_reject_the_second(settings, study, incoming):
    first = write(incoming / "a" / "scan.png", png_bytes(1))
    second = write(incoming / "b" / "scan.png", png_bytes(2))

    report = run_import(study, [first, second])

    assert [row.status for row in report.rows] == ["imported", "rejected"]
    assert "filename" in report.rows[1].reason
    assert_only_good_imports_remain(settings, study, {"scan.png"})
    assert Image.objects.get().sha256 != ""  # the first one is kept
    with Case.objects.get().image.original.open("rb") as handle:
        assert handle.read() == png_bytes(1)


# --- folders, metadata and the whole batch --------------------------------------------------------


def test_folder_with_good_and_bad_files_imports_the_good_and_reports_each_bad(settings, study, incoming):
    write(incoming / "good1.png", png_bytes(1))
    write(incoming / "good2.jpg", jpeg_bytes(2))
    write(incoming / "deeper" / "good3.dcm", dicom_bytes(seed=3))
    write(incoming / "deeper" / "truncated.jpg", truncated_jpeg())
    write(incoming / "corrupt.png", corrupt_png())
    write(incoming / "text.png", b"hello")
    write(incoming / "empty.png", b"")
    write(incoming / "no-pixels.dcm", dicom_bytes(with_pixels=False))
    write(incoming / ".hidden" / "ignored.png", png_bytes(4))
    write(incoming / ".DS_Store", b"\x00\x00\x00\x01Bud1")

    report = run_import(study, [incoming])

    assert report.count("imported") == 3
    assert set(rejected_names(report)) == {"truncated.jpg", "corrupt.png", "text.png", "empty.png", "no-pixels.dcm"}
    assert all(reason for reason in rejected_names(report).values())
    assert_only_good_imports_remain(settings, study, {"good1.png", "good2.jpg", "good3.dcm"})


def test_metadata_csv_inside_the_zip_attaches_patient_ids(settings, study, incoming):
    csv = b"filename,patientid,offset\na.png,P-001,0\nb.png,P-002,4\n"
    archive = write(
        incoming / "with-meta.zip",
        zip_bytes({"metadata.csv": csv, "images/a.png": png_bytes(1), "images/b.png": png_bytes(2)}),
    )

    report = run_import(study, [archive])

    assert report.count("imported") == 2
    assert report.count("rejected") == 0
    assert dict(study.cases.values_list("original_filename", "patient_id")) == {"a.png": "P-001", "b.png": "P-002"}
    assert study.cases.get(original_filename="b.png").metadata["offset"] == "4"


@pytest.mark.parametrize(
    ("csv", "reason"),
    [
        (b"name,patientid\na.png,P-001\n", "a CSV needs a filename column to be read as metadata"),
        ("filename,patientid\na.png,Jos\xe9\n".encode("latin-1"), "metadata CSV is not UTF-8 text"),
    ],
    ids=["no-filename-column", "not-utf8"],
)
def test_bad_metadata_csv_is_rejected_without_stopping_the_images(settings, study, incoming, csv, reason):
    archive = write(incoming / "with-meta.zip", zip_bytes({"metadata.csv": csv, "a.png": png_bytes(1)}))
    loose = write(incoming / "b.png", png_bytes(2))

    report = run_import(study, [archive, loose])

    assert report.count("imported") == 2
    assert rejected_names(report)["metadata.csv"].startswith(reason)
    assert set(study.cases.values_list("patient_id", flat=True)) == {""}
    assert_only_good_imports_remain(settings, study, {"a.png", "b.png"})


def test_after_a_batch_of_every_kind_of_bad_file_only_the_good_imports_remain(settings, study, incoming, tmp_path):
    settings.IMPORT_MAX_IMAGE_PIXELS = 5000
    settings.IMPORT_MAX_FILE_BYTES = 20_000
    link_zip = io.BytesIO()
    with zipfile.ZipFile(link_zip, "w") as zf:
        info = zipfile.ZipInfo("link.png")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
        zf.writestr("zip-good.png", png_bytes(20))
    paths = [
        write(incoming / "good.png", png_bytes(1)),
        write(incoming / "good.jpg", jpeg_bytes(2)),
        write(incoming / "good.dcm", dicom_bytes(seed=3)),
        write(incoming / "truncated.jpg", truncated_jpeg()),
        write(incoming / "corrupt.png", corrupt_png()),
        write(incoming / "text.png", b"not an image"),
        write(incoming / "empty.png", b""),
        write(incoming / "bomb.png", png_bytes(4, size=(100, 100))),
        write(incoming / "huge.png", b"\x89PNG\r\n\x1a\n" + bytes(25_000)),
        write(incoming / "no-pixels.dcm", dicom_bytes(with_pixels=False)),
        write(
            incoming / "traversal.zip",
            zip_bytes({"../evil.png": png_bytes(5), "/etc/x.png": png_bytes(6), "ok/zip-ok.png": png_bytes(7)}),
        ),
        write(incoming / "links.zip", link_zip.getvalue()),
        write(incoming / "nested.zip", zip_bytes({"inner.zip": zip_bytes({"x.png": png_bytes(8)})})),
        write(incoming / "broken.zip", b"PK\x03\x04" + bytes(100)),
        write(incoming / "copy-of-good.png", png_bytes(1)),
        write(incoming / "other" / "good.png", png_bytes(9)),
    ]
    before = all_files(tmp_path)

    report = run_import(study, paths)

    good = {"good.png", "good.jpg", "good.dcm", "zip-good.png", "zip-ok.png"}
    assert report.count("imported") == len(good)
    assert report.count("duplicate") == 1
    assert set(rejected_names(report)) == {
        "truncated.jpg",
        "corrupt.png",
        "text.png",
        "empty.png",
        "bomb.png",
        "huge.png",
        "no-pixels.dcm",
        "evil.png",
        "x.png",
        "link.png",
        "inner.zip",
        "broken.zip",
        "good.png",
    }
    assert report.count("rejected") == 13
    assert_only_good_imports_remain(settings, study, good)
    assert all_files(tmp_path) - before == {f"media/{name}" for name in stored_files()}


# --- a failing database write after the files were written ---------------------------------------


def _boom(*args, **kwargs):
    raise DatabaseError("disk I/O error")


def test_failing_image_row_write_removes_the_written_files_and_leaves_no_rows(settings, study, incoming, monkeypatch):
    path = write(incoming / "good.png", png_bytes(1))
    monkeypatch.setattr(Image.objects, "create", _boom)

    with pytest.raises(DatabaseError):
        run_import(study, [path])

    assert Image.objects.count() == 0 and Case.objects.count() == 0
    assert media_files(settings) == set()


def test_failing_case_row_write_removes_the_written_files_and_leaves_no_rows(settings, study, incoming, monkeypatch):
    path = write(incoming / "good.png", png_bytes(1))
    monkeypatch.setattr(Case.objects, "create", _boom)

    with pytest.raises(DatabaseError):
        run_import(study, [path])

    assert Image.objects.count() == 0 and Case.objects.count() == 0
    assert media_files(settings) == set()


def test_case_row_conflict_after_the_files_were_written_leaves_no_orphan_image(settings, study, incoming, monkeypatch):
    """A concurrent upload taking the filename first: reported, and the new image is not left behind."""
    path = write(incoming / "good.png", png_bytes(1))

    def conflict(*args, **kwargs):
        raise IntegrityError("UNIQUE constraint failed: annotation_case.study_id, annotation_case.original_filename")

    monkeypatch.setattr(Case.objects, "create", conflict)

    report = run_import(study, [path])

    assert [row.status for row in report.rows] == ["duplicate"]
    assert Image.objects.count() == 0 and Case.objects.count() == 0
    assert media_files(settings) == set()


def test_failing_case_write_keeps_an_image_shared_with_another_study(settings, make_study, incoming, monkeypatch):
    first = make_study(n_cases=0, open_it=False, slug="s1")
    second = make_study(n_cases=0, open_it=False, slug="s2")
    path = write(incoming / "shared.png", png_bytes(1))
    assert run_import(first, [path]).count("imported") == 1
    files_before = media_files(settings)
    monkeypatch.setattr(Case.objects, "create", _boom)

    with pytest.raises(DatabaseError):
        run_import(second, [path])

    assert Image.objects.count() == 1 and Case.objects.count() == 1
    assert media_files(settings) == files_before == stored_files()


# --- web upload -------------------------------------------------------------------------------------


def _upload(client, study, files, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("study_upload", args=[study.slug]), {"files": files})


def test_owner_upload_of_two_good_pngs_and_one_corrupt_file_reports_2_imported_1_rejected(
    settings, make_study, client_for, django_capture_on_commit_callbacks
):
    study = make_study(n_cases=0, open_it=False)
    alice = client_for("alice")
    files = [
        SimpleUploadedFile("one.png", png_bytes(1), content_type="image/png"),
        SimpleUploadedFile("two.png", png_bytes(2), content_type="image/png"),
        SimpleUploadedFile("broken.png", corrupt_png(), content_type="image/png"),
    ]

    response = _upload(alice, study, files, django_capture_on_commit_callbacks)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("import_job", args=[study.slug, job.pk])
    assert job.status == ImportJob.Status.DONE, job.error
    assert job.counts() == {"imported": 2, "duplicate": 0, "rejected": 1}
    page = alice.get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert "<strong>2</strong> imported" in text
    assert "<strong>1</strong> rejected" in text
    (row,) = [row for row in job.report if row["status"] == "rejected"]
    assert row["name"] == "broken.png" and row["reason"].startswith("corrupt")
    assert row["reason"] in text or row["reason"].replace("'", "&#x27;") in text
    assert set(study.cases.values_list("original_filename", flat=True)) == {"one.png", "two.png"}
    # The uploaded copies are gone once imported; only the stored images remain.
    assert media_files(settings) == stored_files()


def test_owner_upload_of_a_zip_follows_the_same_rules(
    settings, make_study, client_for, django_capture_on_commit_callbacks
):
    study = make_study(n_cases=0, open_it=False)
    archive = zip_bytes(
        {"../evil.png": png_bytes(1), "nested.zip": zip_bytes({"x.png": png_bytes(2)}), "good.png": png_bytes(3)}
    )

    _upload(
        client_for("alice"),
        study,
        [SimpleUploadedFile("batch.zip", archive, content_type="application/zip")],
        django_capture_on_commit_callbacks,
    )

    job = ImportJob.objects.get()
    assert job.counts() == {"imported": 1, "duplicate": 0, "rejected": 2}
    assert set(study.cases.values_list("original_filename", flat=True)) == {"good.png"}
    assert media_files(settings) == stored_files()


@pytest.mark.parametrize("who", ["rater1", "olivia", "oscar"])
def test_non_owners_get_404_for_the_upload_url_and_the_job_page(
    settings, personas, make_study, client_for, who, django_capture_on_commit_callbacks
):
    study = make_study(n_cases=0, open_it=False)
    with django_capture_on_commit_callbacks(execute=True):  # the owner's job, made without the form
        job = import_job_create(
            study=study, user=personas["alice"], files=[SimpleUploadedFile("one.png", png_bytes(1))]
        )
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert client_for("alice").get(reverse("import_job", args=[study.slug, job.pk])).status_code == 200
    client = client_for(who)

    response = _upload(client, study, [SimpleUploadedFile("two.png", png_bytes(2))], django_capture_on_commit_callbacks)
    assert response.status_code == 404
    assert client.get(reverse("import_job", args=[study.slug, job.pk])).status_code == 404
    assert ImportJob.objects.count() == 1
    assert set(study.cases.values_list("original_filename", flat=True)) == {"one.png"}


def test_anonymous_upload_is_sent_to_login(make_study, client, django_capture_on_commit_callbacks):
    study = make_study(n_cases=0, open_it=False)

    response = _upload(client, study, [SimpleUploadedFile("one.png", png_bytes(1))], django_capture_on_commit_callbacks)

    assert response.status_code == 302 and "login" in response["Location"]
    assert ImportJob.objects.count() == 0


def test_locked_study_refuses_an_import_job_and_stores_no_upload(
    settings, personas, make_study, django_capture_on_commit_callbacks
):
    study = make_study(n_cases=3)
    study_lock(study=study)
    files_before = media_files(settings)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(StudyStateError, match="locked"):
        import_job_create(study=study, user=personas["alice"], files=[SimpleUploadedFile("late.png", png_bytes(50))])

    assert ImportJob.objects.count() == 0
    assert Case.objects.count() == 3
    assert media_files(settings) == files_before


def test_locked_study_refuses_uploads_with_a_message_and_creates_no_import_job(
    settings, make_study, client_for, django_capture_on_commit_callbacks
):
    study = make_study(n_cases=3)
    study_lock(study=study)
    files_before = media_files(settings)
    alice = client_for("alice")

    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(
            reverse("study_upload", args=[study.slug]),
            {"files": [SimpleUploadedFile("late.png", png_bytes(50))]},
            follow=True,
        )

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("study", args=[study.slug])
    messages = [str(m) for m in response.context["messages"]]
    assert any("Nothing uploaded" in m and "locked" in m for m in messages), messages
    assert ImportJob.objects.count() == 0
    assert Case.objects.count() == 3
    assert media_files(settings) == files_before
