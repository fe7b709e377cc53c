"""Every request is bounded while it is read (core/uploads.py, core/parsers.py): a 600 MB upload, too
many files, a huge or deeply nested JSON body and a study over its storage quota are refused with
413 (or 400) in the right shape, before anything reaches the storage, and nothing is left behind.

The 600 MB bodies are streamed by a counting reader, never held in memory: the tests prove how few
of their bytes the server read.
"""

import html
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from PIL import Image as PILImage

from annotation.models import AuditEvent, Case, Image, ImportJob
from annotation.services import case_remove
from tests.api_support import API, api_client
from tests.conftest import png_bytes
from tests.test_import_rejects_bad_files_and_keeps_the_rest import media_files

MB = 1024 * 1024
BOUNDARY = "----hostile-boundary"


class CountingMultipart:
    """A multipart body with one file of `size` bytes, produced as it is read and counting the
    bytes the server asked for (a file-like wsgi.input)."""

    def __init__(self, *, filename: str, size: int):
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self.parts = [head, size, f"\r\n--{BOUNDARY}--\r\n".encode()]
        self.length = len(head) + size + len(self.parts[2])
        self.position = 0
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        size = self.length - self.position if size is None or size < 0 else min(size, self.length - self.position)
        out = bytearray()
        offset = self.position
        for part in self.parts:
            part_length = part if isinstance(part, int) else len(part)
            if offset < part_length and len(out) < size:
                take = min(part_length - offset, size - len(out))
                out += b"\0" * take if isinstance(part, int) else part[offset : offset + take]
                offset = 0
            else:
                offset -= part_length
        self.position += len(out)
        self.read_bytes += len(out)
        return bytes(out)

    def readline(self, size: int = -1) -> bytes:  # not used by the multipart parser, for completeness
        return self.read(size)


@pytest.fixture(autouse=True)
def _fresh_login_throttle():
    """Several tests here post to auth/login/, which counts tries per client address."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def study(make_study):
    return make_study(n_cases=0, open_it=False)


@pytest.fixture
def temp_uploads(settings, tmp_path) -> Path:
    folder = tmp_path / "upload-temp"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


def _post_stream(client, url: str, body: CountingMultipart, *, declared: int | None = None):
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    return client.generic(
        "POST",
        url,
        content_type=content_type,
        **{
            "wsgi.input": body,
            "CONTENT_LENGTH": str(declared if declared is not None else body.length),
            "CONTENT_TYPE": content_type,
        },
    )


def _upload_url(study, door: str) -> str:
    return f"{API}/studies/{study.slug}/imports/" if door == "api" else f"/studies/{study.slug}/upload/"


def _client(door, personas, client_for):
    return api_client(personas["alice"]) if door == "api" else client_for("alice")


def _assert_refused(response, door: str, fragment: str, status: int = 413):
    assert response.status_code == status, response.content[:500]
    if door == "api":
        error = response.json()["error"]
        assert error["code"] in ("too_large", "storage_quota", "invalid") and fragment in error["message"], error
    else:
        text = response.content.decode()
        assert "Nothing uploaded" in text and html.escape(fragment) in text, text[:2000]
        assert "Nothing was stored" in text


class KeepingHandler(FileUploadHandler):
    """Stands where the memory and temporary-file handlers are: counts what would be kept."""

    kept = 0

    def receive_data_chunk(self, raw_data, start):
        KeepingHandler.kept += len(raw_data)
        return raw_data

    def file_complete(self, file_size):
        return None


@pytest.mark.parametrize("door", ["web", "api"])
def test_a_600_mb_image_is_cut_off_at_the_per_file_limit_and_nothing_is_stored(
    settings, personas, client_for, study, temp_uploads, door
):
    settings.FILE_UPLOAD_HANDLERS = [
        settings.FILE_UPLOAD_HANDLERS[0],
        f"{__name__}.KeepingHandler",
        *settings.FILE_UPLOAD_HANDLERS[1:],
    ]
    KeepingHandler.kept = 0
    body = CountingMultipart(filename="huge.dcm", size=600 * MB)
    response = _post_stream(_client(door, personas, client_for), _upload_url(study, door), body)

    _assert_refused(response, door, "'huge.dcm' is larger than the limit of 200 MB")
    # Past the bounding handler, nothing beyond the 200 MB per-file limit was passed on to be kept;
    # the rest of the body was read and dropped, so that the sender gets the answer, not a reset.
    assert KeepingHandler.kept <= settings.IMPORT_MAX_FILE_BYTES
    assert body.read_bytes == body.length
    assert ImportJob.objects.count() == Case.objects.count() == Image.objects.count() == 0
    assert media_files(settings) == set()
    assert list(temp_uploads.iterdir()) == []  # the temporary file begun was removed


@pytest.mark.parametrize("door", ["web", "api"])
def test_a_declared_body_above_the_request_limit_is_refused_unread(settings, personas, client_for, study, door):
    settings.UPLOAD_MAX_REQUEST_BYTES = 512 * MB
    body = CountingMultipart(filename="images.zip", size=600 * MB)
    response = _post_stream(_client(door, personas, client_for), _upload_url(study, door), body)

    _assert_refused(response, door, "above the limit of 512 MB for one request")
    assert body.read_bytes == 0
    assert ImportJob.objects.count() == 0 and media_files(settings) == set()


@pytest.mark.parametrize("door", ["web", "api"])
def test_too_many_files_in_one_request_are_refused_with_a_hint(settings, personas, client_for, study, door):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 5
    files = [SimpleUploadedFile(f"f{i}.png", png_bytes(i)) for i in range(6)]
    client = _client(door, personas, client_for)
    if door == "api":
        response = client.post(_upload_url(study, door), {"files": files}, format="multipart")
    else:
        response = client.post(_upload_url(study, door), {"files": files})

    _assert_refused(response, door, "more than 5 files in one upload: put them in a .zip")
    assert ImportJob.objects.count() == 0 and media_files(settings) == set()


def test_the_default_file_count_is_a_hundred(settings):
    assert settings.DATA_UPLOAD_MAX_NUMBER_FILES == 100


def test_a_json_body_above_the_limit_gets_the_api_error_shape_unread(personas, client):
    body = CountingMultipart(filename="x", size=100 * MB)
    response = client.generic(
        "POST",
        f"{API}/auth/login/",
        **{"wsgi.input": body, "CONTENT_LENGTH": str(body.length), "CONTENT_TYPE": "application/json"},
    )
    assert response.status_code == 413, response.content[:300]
    assert response.json()["error"]["code"] == "too_large"
    assert body.read_bytes == 0


def test_a_json_body_over_the_limit_without_a_usable_length_is_cut_off(settings, personas):
    settings.API_MAX_JSON_BYTES = 4096
    payload = json.dumps({"username": "alice", "password": "x" * 10_000})
    response = api_client(None).post(f"{API}/auth/login/", payload, content_type="application/json")
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
@pytest.mark.parametrize("endpoint", ["auth/login/", "studies/"])
def test_deeply_nested_json_is_a_400_in_the_api_shape(personas, depth, endpoint):
    payload = "[" * depth + "]" * depth
    client = api_client(personas["alice"] if endpoint == "studies/" else None)
    response = client.post(f"{API}/{endpoint}", payload, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert "nested deeper than 32 levels" in error["message"]


def test_json_nested_within_the_limit_is_read(personas):
    payload = {"username": "alice", "password": "wrong", "extra": [[[[{"a": [1]}]]]]}
    response = api_client(None).post(f"{API}/auth/login/", payload, format="json")
    assert response.status_code in (400, 401), response.content[:300]  # read and answered, not refused


@pytest.mark.parametrize("door", ["web", "api"])
def test_an_upload_over_the_study_storage_quota_is_refused_whole(settings, personas, client_for, make_study, door):
    study = make_study(n_cases=2, open_it=False)  # holds two images already
    used = sum(study.cases.values_list("image__original_bytes", flat=True))
    files = [SimpleUploadedFile("a.png", png_bytes(501)), SimpleUploadedFile("b.png", png_bytes(502))]
    settings.STUDY_STORAGE_QUOTA_BYTES = used + files[0].size  # room for one more image, not two
    before = media_files(settings)
    client = _client(door, personas, client_for)
    if door == "api":
        response = client.post(_upload_url(study, door), {"files": files}, format="multipart")
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["code"] == "storage_quota" and "storage quota" in error["message"]
    else:
        response = client.post(_upload_url(study, door), {"files": files}, follow=True)
        assert "Nothing uploaded: the study&#x27;s storage quota" in response.content.decode()
    assert ImportJob.objects.count() == 0 and study.cases.count() == 2
    assert media_files(settings) == before


def test_images_unpacked_from_an_archive_stop_at_the_quota_one_by_one(
    settings, personas, make_study, django_capture_on_commit_callbacks
):
    from annotation.services import import_job_create

    study = make_study(n_cases=0, open_it=False)
    members = {f"img-{i}.png": _uncompressed_png(level=40 + i) for i in range(3)}
    archive = _deflated_zip(members)
    sizes = sorted(len(data) for data in members.values())
    # The archive fits (it is compressed); its images unpacked do not all fit: two do.
    settings.STUDY_STORAGE_QUOTA_BYTES = max(len(archive), sizes[-1] + sizes[-2]) + 10
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(study=study, user=personas["alice"], files=[SimpleUploadedFile("images.zip", archive)])
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    counts = job.counts()
    assert counts["imported"] >= 1 and counts["rejected"] >= 1, job.report
    assert all("storage quota" in row["reason"] for row in job.report if row["status"] == "rejected")
    assert sum(study.cases.values_list("image__original_bytes", flat=True)) <= settings.STUDY_STORAGE_QUOTA_BYTES


def _uncompressed_png(*, level: int) -> bytes:
    out = io.BytesIO()
    PILImage.new("L", (200, 150), level).save(out, format="PNG", compress_level=0)
    return out.getvalue()


def _deflated_zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize("door", ["web", "api"])
def test_an_owner_removes_an_unrated_case_and_its_files(
    settings, personas, client_for, make_study, django_capture_on_commit_callbacks, door
):
    study = make_study(n_cases=2, open_it=False)
    case = study.cases.first()
    image_files = {case.image.original.name, case.image.display.name}
    assert image_files <= media_files(settings)
    with django_capture_on_commit_callbacks(execute=True):  # the files go once the removal commits
        if door == "api":
            response = api_client(personas["alice"]).delete(f"{API}/studies/{study.slug}/cases/{case.public_id}/")
            assert response.status_code == 204
        else:
            response = client_for("alice").post(f"/studies/{study.slug}/cases/{case.public_id}/remove/", follow=True)
            assert f"Removed {case.original_filename}" in response.content.decode()
    assert not Case.objects.filter(pk=case.pk).exists() and study.cases.count() == 1
    assert not image_files & media_files(settings)
    event = AuditEvent.objects.get(action=AuditEvent.Action.CASE_REMOVE)
    assert event.target == case.public_id and event.actor == personas["alice"]


def test_a_rated_case_stays(settings, personas, client_for, make_study):
    from annotation.services import rating_submit

    study = make_study(n_cases=1)
    assignment = study.assignments.first()
    rating_submit(
        assignment=assignment, values={"extent_right": 1, "extent_left": 1, "opacity_right": 1, "opacity_left": 1}
    )
    case = assignment.case
    response = api_client(personas["alice"]).delete(f"{API}/studies/{study.slug}/cases/{case.public_id}/")
    assert response.status_code == 409 and "rated cases stay" in response.json()["error"]["message"]
    with pytest.raises(Exception, match="rated cases stay"):
        case_remove(case=case, actor=personas["alice"])
    assert Case.objects.filter(pk=case.pk).exists()
    # A rater cannot remove cases: not even that the case exists is shown to them.
    response = api_client(personas["rater1"]).delete(f"{API}/studies/{study.slug}/cases/{case.public_id}/")
    assert response.status_code == 404


def test_an_image_shared_with_another_study_keeps_its_files(settings, personas, make_study):
    from annotation.ingest import Source
    from annotation.services import images_import

    first = make_study(n_cases=1, open_it=False)
    image = first.cases.get().image
    second = make_study(n_cases=0, open_it=False, slug="second")
    with image.original.open("rb") as handle:
        data = handle.read()
    images_import(study=second, sources=[Source(name="same.png", where="same.png", data=data)])
    case_remove(case=second.cases.get(), actor=personas["alice"])
    assert Image.objects.filter(pk=image.pk).exists()
    assert {image.original.name, image.display.name} <= media_files(settings)
