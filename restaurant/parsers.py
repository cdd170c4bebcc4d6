"""The API's JSON parser: camelCase on the wire, snake_case inside, strict, and bounded.

DRF hands a parser the raw request stream, past Django's own body limit (which guards
`request.body` and forms only): the limit is honoured here, before anything is read. A body
declared larger than `DATA_UPLOAD_MAX_MEMORY_SIZE` is refused unread; one that turns out
larger is refused after reading one byte more than the limit, never all of it.
"""

import json

from django.conf import settings
from djangorestframework_camel_case.settings import api_settings as camel_settings
from djangorestframework_camel_case.util import underscoreize
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser


def too_large_detail(limit: int) -> str:
    return f"The request body is larger than {limit} bytes."


class PayloadTooLarge(APIException):
    """413; restaurant.problems renders it as `payload-too-large` problem details."""

    status_code = 413
    default_code = "payload_too_large"

    def __init__(self, limit: int):
        super().__init__(too_large_detail(limit))


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def read_bounded(stream, request) -> bytes:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return stream.read()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise PayloadTooLarge(limit)
    raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(limit)
    return raw


class CamelCaseJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        raw = read_bounded(stream, parser_context["request"])
        try:
            data = json.loads(raw.decode(encoding), parse_constant=_refuse_constant)
            return underscoreize(data, **camel_settings.JSON_UNDERSCOREIZE)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
        except ValueError as exc:  # includes UnicodeDecodeError
            raise ParseError(f"JSON parse error - {exc}") from None
