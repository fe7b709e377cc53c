"""The API's JSON parser, with limits. A module of its own: DRF reads DEFAULT_PARSER_CLASSES while
rest_framework.views loads, so this must not import it (core.api does)."""

import json

from django.conf import settings
from rest_framework import exceptions, parsers


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request is too large."
    default_code = "too_large"


class BoundedJSONParser(parsers.JSONParser):
    """DRF's JSON parser with limits: at most API_MAX_JSON_BYTES (413, read no further) and
    API_MAX_JSON_DEPTH levels of nesting (400; deeper input made the standard parser recurse until
    Python gave up, a 500). NaN and Infinity literals are refused, as DRF does."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_JSON_BYTES
        request = (parser_context or {}).get("request")
        declared = _content_length(request)
        if declared > limit:
            raise PayloadTooLarge(f"a JSON body of {declared:,} bytes is above the limit of {limit:,}")
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"a JSON body above the limit of {limit:,} bytes")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(raw.decode(encoding), parse_constant=_refuse_constant)
        except RecursionError:
            raise exceptions.ParseError(f"JSON nested deeper than {settings.API_MAX_JSON_DEPTH} levels") from None
        except ValueError as exc:  # also UnicodeDecodeError
            raise exceptions.ParseError(f"JSON parse error: {exc}") from None
        if _nesting(data, stop_at=settings.API_MAX_JSON_DEPTH) > settings.API_MAX_JSON_DEPTH:
            raise exceptions.ParseError(f"JSON nested deeper than {settings.API_MAX_JSON_DEPTH} levels")
        return data


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
    except ValueError:
        return 0


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _nesting(value, *, stop_at: int) -> int:
    """How deep lists and objects nest, counted without recursion; stops once past `stop_at`."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if not isinstance(item, (dict, list)):
            continue
        deepest = max(deepest, depth)
        if deepest > stop_at:
            break
        pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest
