"""Responses that pages and the API share: files read from storage, CSV downloads."""

from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse


def png_response(name: str) -> HttpResponse:
    """A stored PNG, with nothing in the URL or headers that says which case it is."""
    try:
        with default_storage.open(name, "rb") as handle:
            data = handle.read()
    except OSError:
        raise Http404("image not available") from None
    # No filename, no Content-Disposition (FileResponse would add the stored name). Not stored by any
    # cache, the browser's included: reading rooms are shared machines, and a case image must not
    # outlive the rater's session there.
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "no-store"
    return response


def csv_response(text: str, *, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
