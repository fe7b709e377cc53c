"""A corpus of hostile uploads, generated here, sent through both doors: the owner's web upload and
the API. Each bad file gets its own clear reason, nothing partial is stored (rows or files under
MEDIA_ROOT), the odd-but-valid images import, and the server keeps serving afterwards.

Single bad files through the CLI path are in tests/test_import_rejects_bad_files_and_keeps_the_rest.py;
this is the same kind of input end to end, over HTTP.
"""

import html
import io
import stat
import zipfile
import zlib

import numpy as np
import pydicom
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from annotation.models import Case, Image, ImportJob, Rating
from tests.api_support import API, api_client
from tests.conftest import png_bytes, zip_bytes
from tests.test_import_rejects_bad_files_and_keeps_the_rest import (
    corrupt_png,
    dicom_bytes,
    jpeg_bytes,
    media_files,
    stored_files,
    truncated_jpeg,
)

# --- generators ------------------------------------------------------------------------------------


def _pil_bytes(image: PILImage.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def png_16_bit() -> bytes:
    array = np.random.default_rng(7).integers(0, 65535, size=(40, 50), dtype=np.uint16)
    return _pil_bytes(PILImage.frombytes("I;16", (50, 40), array.tobytes()), "PNG")


def jpeg_cmyk() -> bytes:
    array = np.random.default_rng(8).integers(0, 255, size=(40, 50, 4), dtype=np.uint8)
    return _pil_bytes(PILImage.frombytes("CMYK", (50, 40), array.tobytes()), "JPEG")


def png_palette() -> bytes:
    return _pil_bytes(PILImage.open(io.BytesIO(png_bytes(9, mode="RGB"))).convert("P"), "PNG")


def dicom_compressed(transfer_syntax) -> bytes:
    """A DICOM whose encapsulated pixel data is garbage in a compressed transfer syntax."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns, ds.SamplesPerPixel = 40, 32, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51 not really compressed " * 8])
    ds["PixelData"].VR = "OB"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def zip_with_symlink_and_traversal() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("../../evil.png", png_bytes(301))
        archive.writestr("/etc/absolute.png", png_bytes(302))
        link = zipfile.ZipInfo("link.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("inside/good.png", png_bytes(303))
    return out.getvalue()


def dicom_deflated(*, inflated_pixel_bytes: int = 0, burned_in: bool = False, seed: int = 0) -> bytes:
    """A DICOM in Deflated Explicit VR Little Endian, as pydicom writes it. With inflated_pixel_bytes,
    its pixel data holds that many bytes of zeros: a few KB on disk, as large as asked inflated."""
    ds = pydicom.dcmread(io.BytesIO(dicom_bytes(seed=seed)))
    if burned_in:
        ds.BurnedInAnnotation = "YES"
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    data = out.getvalue()
    if not inflated_pixel_bytes:
        return data
    meta = data[: _dataset_start(data)]
    plain = io.BytesIO()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(plain, enforce_file_format=True)
    dataset = plain.getvalue()[_dataset_start(plain.getvalue()) :]
    pixels_at = dataset.index(b"\xe0\x7f\x10\x00")  # (7FE0,0010) Pixel Data, the last element
    header = dataset[:pixels_at] + b"\xe0\x7f\x10\x00OW\x00\x00" + inflated_pixel_bytes.to_bytes(4, "little")
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = [deflater.compress(header)]
    chunk = bytes(1024 * 1024)
    for _ in range(inflated_pixel_bytes // len(chunk)):
        body.append(deflater.compress(chunk))
    body.append(deflater.compress(bytes(inflated_pixel_bytes % len(chunk))))
    return meta + b"".join(body) + deflater.flush()


def _dataset_start(data: bytes) -> int:
    # Preamble and DICM (132 bytes), then (0002,0000) UL: the length of the rest of the file meta.
    return 132 + 12 + int.from_bytes(data[140:144], "little")


def zip_with_bad_utf8_name() -> bytes:
    """A member flagged UTF-8 (general purpose bit 11) whose name is not valid UTF-8: Python's
    zipfile cannot even list such an archive."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("XXXX.png", png_bytes(331))
    data = bytearray(out.getvalue().replace(b"XXXX.png", b"\xff\xfe\xfd\xfc.png"))
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central headers
        at = data.index(signature) + flag_offset
        data[at + 1] |= 0x08  # bit 11 is bit 3 of the flag's second byte
    return bytes(data)


def zip_with_nul_metadata() -> bytes:
    metadata = b"filename,patientid,view\nmeta.png,P1\x00,PA\n"
    return zip_bytes({"meta.png": png_bytes(341), "metadata.csv": metadata})


def bomb_png() -> bytes:
    # Small on disk, large when decoded: the limit is lowered for this case (see LIMITS).
    return _pil_bytes(PILImage.new("L", (400, 400)), "PNG")


LONG_NAME = "x" * 296 + ".png"
LONG_UNICODE_NAME = "胸部" * 148 + ".png"  # 300 characters, 892 bytes in UTF-8
UNICODE_NAME = "Röntgen-Thorax-胸部-ü.png"

# id: (files as (name, bytes), settings to lower, expected rows as (name, status, reason fragment))
CORPUS = {
    "truncated-jpeg": ([("cut.jpg", truncated_jpeg())], {}, [("cut.jpg", "rejected", "corrupt or truncated")]),
    "corrupt-png": ([("broken.png", corrupt_png())], {}, [("broken.png", "rejected", "corrupt")]),
    "decompression-bomb": (
        [("bomb.png", bomb_png())],
        {"IMPORT_MAX_IMAGE_PIXELS": 10_000},
        [("bomb.png", "rejected", "image too large")],
    ),
    "huge-zip": (
        [("huge.zip", zip_bytes({"a.png": png_bytes(311), "b.png": png_bytes(312)}))],
        {"IMPORT_MAX_ARCHIVE_BYTES": 1000},
        [("huge.zip", "rejected", "archive unpacks to")],
    ),
    "zip-traversal-and-symlink": (
        [("sneaky.zip", zip_with_symlink_and_traversal())],
        {},
        [
            ("evil.png", "rejected", "unsafe path"),
            ("absolute.png", "rejected", "unsafe path"),
            ("link.png", "rejected", "symbolic link"),
            ("good.png", "imported", ""),
        ],
    ),
    "text-named-png": (
        [("notes.png", b"this is a text file, not an image\n")],
        {},
        [("notes.png", "rejected", "not a PNG, JPEG or DICOM")],
    ),
    "dicom-without-pixels": (
        [("nopixels.dcm", dicom_bytes(with_pixels=False))],
        {},
        [("nopixels.dcm", "rejected", "DICOM without pixel data")],
    ),
    "dicom-jpeg2000-garbage": (
        [("j2k.dcm", dicom_compressed(JPEG2000Lossless))],
        {},
        [("j2k.dcm", "rejected", "DICOM transfer syntax 1.2.840.10008.1.2.4.90")],
    ),
    "dicom-jpegls-garbage": (
        [("jls.dcm", dicom_compressed(JPEGLSLossless))],
        {},
        [("jls.dcm", "rejected", "DICOM transfer syntax 1.2.840.10008.1.2.4.80")],
    ),
    "deflated-dicom": ([("deflated.dcm", dicom_deflated(seed=5))], {}, [("deflated.dcm", "imported", "")]),
    "deflated-dicom-bomb": (
        [("bomb.dcm", dicom_deflated(inflated_pixel_bytes=64 * 1024 * 1024))],
        {"IMPORT_MAX_FILE_BYTES": 8 * 1024 * 1024},
        [("bomb.dcm", "rejected", "deflated DICOM inflates beyond the limit of 8,388,608 bytes")],
    ),
    "burned-in-annotation": (
        [("burned.dcm", dicom_deflated(burned_in=True, seed=6))],
        {},
        [("burned.dcm", "rejected", "BurnedInAnnotation YES")],
    ),
    "zip-name-flagged-utf8-but-not": (
        [("names.zip", zip_with_bad_utf8_name())],
        {},
        [("names.zip", "rejected", "flagged as UTF-8 but is not")],
    ),
    "nul-in-metadata": (
        [("with-metadata.zip", zip_with_nul_metadata())],
        {},
        [("meta.png", "imported", ""), ("metadata.csv", "rejected", "NUL bytes")],
    ),
    "16-bit-png": ([("deep.png", png_16_bit())], {}, [("deep.png", "imported", "")]),
    "cmyk-jpeg": ([("cmyk.jpg", jpeg_cmyk())], {}, [("cmyk.jpg", "imported", "")]),
    "palette-png": ([("palette.png", png_palette())], {}, [("palette.png", "imported", "")]),
    "unicode-name": ([(UNICODE_NAME, jpeg_bytes(321))], {}, [(UNICODE_NAME, "imported", "")]),
    "300-char-name": ([(LONG_NAME, png_bytes(322))], {}, [(None, "imported", "")]),
    "300-char-unicode-name": ([(LONG_UNICODE_NAME, png_bytes(323))], {}, [(None, "imported", "")]),
}


@pytest.fixture
def study(make_study):
    return make_study(n_cases=0, open_it=False)


def _web_upload(client_for, study, files):
    response = client_for("alice").post(f"/studies/{study.slug}/upload/", {"files": files})
    assert response.status_code == 302, response.content[:300]
    return ImportJob.objects.get()


def _api_upload(personas, study, files):
    response = api_client(personas["alice"]).post(
        f"{API}/studies/{study.slug}/imports/", {"files": files}, format="multipart"
    )
    assert response.status_code == 202, response.content[:300]
    job = ImportJob.objects.get()
    assert response.json()["report"] == job.report  # the API answer carries the same per-file reasons
    return job


@pytest.mark.parametrize("door", ["web", "api"])
@pytest.mark.parametrize("case", list(CORPUS), ids=list(CORPUS))
def test_hostile_upload_gets_a_reason_per_file_and_stores_nothing_partial(
    settings, personas, study, client_for, django_capture_on_commit_callbacks, case, door
):
    files, limits, expected = CORPUS[case]
    for name, value in limits.items():
        setattr(settings, name, value)
    uploads = [SimpleUploadedFile(name, data, content_type="application/octet-stream") for name, data in files]
    with django_capture_on_commit_callbacks(execute=True):
        job = _web_upload(client_for, study, uploads) if door == "web" else _api_upload(personas, study, uploads)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.error
    rows = sorted(job.report, key=lambda row: row["name"])
    assert len(rows) == len(expected), rows
    for name, status, reason in expected:
        (row,) = [r for r in rows if name is None or r["name"] == name]
        assert row["status"] == status, row
        assert reason in row["reason"], row
        if status == "rejected":
            assert len(row["reason"]) < 300  # a reason to act on, not a traceback
    imported = [r for r in rows if r["status"] == "imported"]
    assert Case.objects.count() == Image.objects.count() == len(imported)
    assert Rating.objects.count() == 0
    assert media_files(settings) == stored_files()  # no upload copies, no half-written images
    for case_row in Case.objects.all():
        assert 0 < len(case_row.original_filename) <= 255
    if case == "unicode-name":
        assert Case.objects.get().original_filename == UNICODE_NAME
    if case.startswith("300-char"):  # cut to fit a file system's 255 bytes, the extension kept
        name = Case.objects.get().original_filename
        assert name.endswith(".png") and len(name.encode()) <= 210 and files[0][0].startswith(name[:-4])
    assert client_for("alice").get(f"/studies/{study.slug}/").status_code == 200  # still serving
    if door == "web":
        text = client_for("alice").get(f"/studies/{study.slug}/imports/{job.pk}/").content.decode()
        for row in rows:
            assert html.escape(row["reason"]) in text


@pytest.mark.parametrize("door", ["web", "api"])
def test_empty_upload_is_refused_at_the_door_with_a_reason(settings, personas, study, client_for, door):
    upload = SimpleUploadedFile("empty.png", b"", content_type="image/png")
    if door == "web":
        response = client_for("alice").post(f"/studies/{study.slug}/upload/", {"files": [upload]}, follow=True)
        assert "Nothing uploaded: The submitted file is empty." in response.content.decode()
    else:
        response = api_client(personas["alice"]).post(
            f"{API}/studies/{study.slug}/imports/", {"files": [upload]}, format="multipart"
        )
        assert response.status_code == 400 and "The submitted file is empty" in response.content.decode()
    assert ImportJob.objects.count() == Case.objects.count() == Image.objects.count() == 0
    assert media_files(settings) == set()
    assert client_for("alice").get(f"/studies/{study.slug}/").status_code == 200


# --- ratings CSV -----------------------------------------------------------------------------------

HEADER = "image,rater,extent_right,extent_left,opacity_right,opacity_left\n"
GOOD_ROW = "img-000.png,rater1,2,3,1,2\n"

CSV_CORPUS = {
    "bad-columns": (b"picture,who,extent_right\nimg-000.png,rater1,2\n", "missing column 'image'"),
    "unknown-column": ((HEADER.strip() + ",secret\n" + GOOD_ROW.strip() + ",x\n").encode(), "unknown column 'secret'"),
    "out-of-range": ((HEADER + "img-000.png,rater1,9,3,1,2\n").encode(), "line 2"),
    "negative-value": ((HEADER + "img-000.png,rater1,-1,3,1,2\n").encode(), "line 2"),
    "duplicates": ((HEADER + GOOD_ROW + GOOD_ROW).encode(), "duplicate of line 2"),
    "latin-1": ((HEADER + "img-000.png,jürgen,2,3,1,2\n").encode("latin-1"), "not UTF-8"),
    "utf-16": ((HEADER + GOOD_ROW).encode("utf-16"), "not UTF-8"),
    "nul-bytes": ((HEADER + GOOD_ROW).encode() + b"\x00\x00", "NUL"),
    "empty": (b"", "The submitted file is empty"),
    "header-only": (HEADER.encode(), "no rating rows"),
    "unknown-rater-and-image": ((HEADER + "nope.png,mallory,2,3,1,2\n").encode(), "not a rater of the study"),
}


@pytest.mark.parametrize("door", ["web", "api"])
@pytest.mark.parametrize("case", list(CSV_CORPUS), ids=list(CSV_CORPUS))
def test_hostile_ratings_csv_is_refused_whole_with_a_reason(make_study, personas, client_for, case, door):
    study = make_study(n_cases=2)
    data, reason = CSV_CORPUS[case]
    before = Rating.objects.count(), Case.objects.count()
    upload = SimpleUploadedFile("ratings.csv", data, content_type="text/csv")
    if door == "web":
        response = client_for("alice").post(f"/studies/{study.slug}/ratings/import/", {"csv": upload}, follow=True)
        assert response.status_code == 200
        assert html.escape(reason) in response.content.decode()
    else:
        response = api_client(personas["alice"]).post(
            f"{API}/studies/{study.slug}/ratings/import/", {"file": upload}, format="multipart"
        )
        assert response.status_code == 400, response.content[:300]
        assert reason in response.content.decode()
    assert (Rating.objects.count(), Case.objects.count()) == before  # all or nothing
    assert client_for("alice").get(f"/studies/{study.slug}/").status_code == 200
