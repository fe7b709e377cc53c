"""Bounds on what a request may send, enforced while it is read, before anything is stored.

Three limits, each with a clear 413 (in the API's error shape under /api/, a page elsewhere):
- the whole body: a declared Content-Length above UPLOAD_MAX_REQUEST_BYTES is refused without
  reading a byte of it;
- each file: an image above IMPORT_MAX_FILE_BYTES (a .zip above UPLOAD_MAX_REQUEST_BYTES) is cut
  off as it streams in, so that a 600 MB "image" never reaches a temporary file in full, let alone
  the storage; the rest of the body (within the request limit) is read and thrown away, so that the
  browser or client, still sending, gets the 413 instead of a reset connection;
- the number of files (DATA_UPLOAD_MAX_NUMBER_FILES) and form fields, and the size of a body
  without files (DATA_UPLOAD_MAX_MEMORY_SIZE), Django's own limits, answered the same way.

The middleware reads multipart and form bodies itself, before the CSRF check and the view would,
so that every view gets the same bounds and none can forget them.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render

REFUSAL = "_upload_refusal"


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:,.0f} MB" if size >= 1024 * 1024 else f"{size:,} bytes"


def request_too_large(length: int) -> str | None:
    """Why a body of `length` bytes is refused, or None."""
    if length <= settings.UPLOAD_MAX_REQUEST_BYTES:
        return None
    limit = _megabytes(settings.UPLOAD_MAX_REQUEST_BYTES)
    return f"the upload is {_megabytes(length)}, above the limit of {limit} for one request"


def file_limit(name: str) -> int:
    """The most bytes one uploaded file may have: archives hold many images."""
    if name.lower().endswith(".zip"):
        return settings.UPLOAD_MAX_REQUEST_BYTES
    return settings.IMPORT_MAX_FILE_BYTES


class BoundedUploadHandler(FileUploadHandler):
    """First in FILE_UPLOAD_HANDLERS: counts each file's bytes as they arrive and stops the upload
    at the first file over its limit. The handlers after it (memory, temporary file) never see the
    chunk that crosses it; Django closes, and so deletes, the files begun."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        reason = request_too_large(content_length)  # the middleware checks first; parsers outside it too
        if reason:
            self._refuse(reason)

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        self.limit = file_limit(file_name or "")

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            kind = "an archive" if self.file_name.lower().endswith(".zip") else "one file"
            self._refuse(
                f"{self.file_name!r} is larger than the limit of {_megabytes(self.limit)} for {kind}"
                + ("" if kind == "an archive" else " (put many images in a .zip, or use the import_images command)"),
                read_the_rest=True,  # at most the request limit: read and dropped, never stored
            )
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler keeps the file

    def _refuse(self, reason: str, *, read_the_rest: bool = False):
        setattr(self.request, REFUSAL, reason)
        raise StopUpload(connection_reset=not read_the_rest)


class RequestBoundsMiddleware:
    """Refuses, with 413 and a reason, a request over the limits above; placed before the CSRF
    middleware, the first to read a form body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self._refusal(request)
        if refusal:
            return refused_response(request, *refusal)
        return self.get_response(request)

    def _refusal(self, request: HttpRequest) -> tuple[int, str] | None:
        """(status, reason) when the request is refused."""
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        reason = request_too_large(length)
        if reason:
            return 413, reason
        try:
            return self._read_within_bounds(request)
        except MultiPartParserError as exc:
            return 400, f"the upload could not be read: {exc}"

    def _read_within_bounds(self, request: HttpRequest) -> tuple[int, str] | None:
        if request.method not in ("POST", "PUT", "PATCH") or request.content_type not in (
            "multipart/form-data",
            "application/x-www-form-urlencoded",
        ):
            return None
        try:
            request.POST, request.FILES  # noqa: B018 - read now, within the bounds
        except TooManyFilesSent:
            return 413, (
                f"more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files in one upload: put them in a .zip "
                "archive, or upload them in batches"
            )
        except TooManyFieldsSent:
            return 413, f"more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} form fields in one request"
        except RequestDataTooBig:
            return 413, f"the form is larger than {_megabytes(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}"
        reason = getattr(request, REFUSAL, None)
        if not reason:
            return None
        for uploads in request.FILES.lists():
            for upload in uploads[1]:
                upload.close()  # files completed before the one refused: their temporary files go
        return 413, reason


def refused_response(request: HttpRequest, status: int, reason: str) -> HttpResponse:
    message = f"Nothing uploaded: {reason}."
    if request.path.startswith("/api/"):
        code = "too_large" if status == 413 else "invalid"
        return JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status)
    return render(request, "413.html", {"message": message}, status=status)
