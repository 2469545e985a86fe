"""JSON bodies read within bounds: a size limit checked before reading, a nesting limit checked before parsing.

DRF's JSONParser hands the whole body to json.load: a body of a thousand nested lists raised RecursionError
(a 500), and a body past DATA_UPLOAD_MAX_MEMORY_SIZE got Django's HTML 400 (issue 17).
"""

from __future__ import annotations

import json
import re

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

# Strings may hold brackets; they are removed before brackets are counted.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def nesting_depth(body: bytes, *, stop_after: int) -> int:
    """How deeply lists and objects nest in a JSON text (counting stops once past `stop_after`)."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub(b'""', body)):
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_after:
                    break
        else:
            depth -= 1
    return deepest


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_JSON_MAX_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"The request body is over {limit} bytes.")
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise PayloadTooLarge(f"The request body is over {limit} bytes.")
        max_depth = settings.API_JSON_MAX_DEPTH
        if nesting_depth(body, stop_after=max_depth) > max_depth:
            raise ParseError(f"JSON nested deeper than {max_depth} levels.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(body.decode(encoding), parse_constant=_no_constants)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc


def _no_constants(name: str):
    raise ValueError(f"{name} is not a JSON number")
