"""What every API view shares: one error shape, schema naming and tags, file responses.

Errors always look like {"error": {"code": ..., "message": ..., "fields": {...}}}, whether DRF raised
them (validation, authentication, throttling) or a service did (core.errors: InvalidInput and
InvalidFile are 400, NotAllowed is 403, StateConflict is 409, TooLarge is 413, IdempotencyConflict
is 422, each with its own code). Bodies refused before a view runs (core.uploads, core.parsers) have
the same shape.
"""

import sys

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework import views as drf_views
from rest_framework.renderers import JSONRenderer

from core.errors import IdempotencyConflict, InvalidFile, InvalidInput, NotAllowed, StateConflict, TooLarge
from core.parsers import PayloadTooLarge


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "The study's state does not allow this."
    default_code = "study_state"


class Unprocessable(exceptions.APIException):
    status_code = 422
    default_detail = "The request contradicts an earlier one sent with the same idempotency key."
    default_code = "idempotency_conflict"


class InvalidValues(exceptions.APIException):
    status_code = 400
    default_detail = "Invalid values."
    default_code = "invalid_values"


class FileRefused(exceptions.ValidationError):
    """A file refused as a whole: every bad line is listed under fields.file."""

    def __init__(self, refused: InvalidFile):
        super().__init__({"file": refused.errors})
        self.code, self.summary = refused.code, refused.summary


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)):
        return PayloadTooLarge(str(exc) or PayloadTooLarge.default_detail)
    if isinstance(exc, InvalidFile):
        return FileRefused(exc)
    if isinstance(exc, InvalidInput):
        return InvalidValues(str(exc), code=exc.code)
    if isinstance(exc, StateConflict):
        return Conflict(str(exc), code=exc.code)
    if isinstance(exc, IdempotencyConflict):
        return Unprocessable(str(exc), code=exc.code)
    if isinstance(exc, TooLarge):
        return PayloadTooLarge(str(exc), code=exc.code)
    if isinstance(exc, NotAllowed):
        return exceptions.PermissionDenied(str(exc))
    return exc


def exception_handler(exc: Exception, context: dict):
    """DRF's handler, with service errors mapped to HTTP and every body in the one error shape."""
    exc = _as_api_exception(exc)
    response = drf_views.exception_handler(exc, context)
    if response is None:
        return None  # not an API error: a 500, logged by Django
    if isinstance(exc, exceptions.ValidationError):
        fields = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        if isinstance(exc, FileRefused):
            code, message = exc.code, exc.summary
        else:
            code, message = "invalid", _first_message(fields)
        response.data = {"error": {"code": code, "message": message, "fields": fields}}
    else:
        detail = getattr(exc, "detail", "")
        code = detail.code if isinstance(detail, exceptions.ErrorDetail) else getattr(exc, "default_code", "error")
        response.data = {"error": {"code": code, "message": str(detail), "fields": {}}}
    return response


def _first_message(fields: dict) -> str:
    # One line for clients that show a single message: "field: first message".
    name, messages = next(iter(fields.items()), ("", ["invalid input"]))
    while isinstance(messages, dict):  # nested serializers, dict and list fields
        name, messages = next(iter(messages.items()))
    text = messages[0] if isinstance(messages, list) and messages else messages
    return str(text) if name in ("", "non_field_errors") else f"{name}: {text}"


class ErrorSerializer(serializers.Serializer):
    class BodySerializer(serializers.Serializer):
        code = serializers.CharField(help_text="Machine-readable: not_found, invalid, invalid_values, study_state, ...")
        message = serializers.CharField()
        fields = serializers.DictField(help_text="Field name to a list of messages (validation errors only).")

    error = BodySerializer()


def errors(*codes: int, authenticated: bool = True) -> dict[int, OpenApiResponse]:
    """Schema entries for error responses, e.g. `responses={200: Out, **errors(400, 404)}`; 401 is
    added unless the operation is open to anonymous callers."""
    described = {
        400: "Invalid input",
        401: "Not authenticated",
        403: "Not allowed to you, though you may know of it (e.g. creating a study without the coordinator right)",
        404: "Not found, or not yours (never 403: nothing says that it exists)",
        409: "Not allowed in the current state (the study's, its report's or its model's)",
        422: "The idempotency key was used before for a different request (idempotency_conflict)",
        413: "Too large: the request, a file in it, or the study's storage quota",
        429: "Too many requests",
    }
    codes = ((401,) if authenticated else ()) + codes
    return {code: OpenApiResponse(ErrorSerializer, description=described.get(code, "")) for code in codes}


class AutoSchema(openapi.AutoSchema):
    def get_tags(self) -> list[str]:
        # Operations are grouped in the docs by the SCHEMA_TAG of the module that holds their view,
        # unless the view names its own (`schema_tag`).
        module = type(self.view).__module__
        default = getattr(sys.modules[module], "SCHEMA_TAG", module.rsplit(".", 1)[-1])
        return [getattr(self.view, "schema_tag", default)]

    def get_serializer_name(self, serializer, direction) -> str:
        # Serializers nest inside their API view (HackSoft style): "StudiesApi.CreateInputSerializer"
        # becomes the component "StudiesCreateInput", so that the many InputSerializers do not clash.
        qualname = type(serializer).__qualname__
        return qualname.replace("Api.", "").replace("Serializer", "").replace(".", "")


class FileResponseMixin:
    """For views whose success is a file (PNG, CSV): errors stay JSON whatever the Accept header says."""

    def perform_content_negotiation(self, request, force=False):
        return JSONRenderer(), JSONRenderer.media_type
