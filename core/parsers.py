"""The API's request parsers (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]): one size limit for all of them.

Every parser reads at most API_MAX_BODY_BYTES (413 past it; multipart's file parts have their own limit,
QA_RECORDING_MAX_MB, and its other fields Django's DATA_UPLOAD_MAX_MEMORY_SIZE, set to the same
number). JSON is refused (400) when it nests deeper than API_JSON_MAX_DEPTH or holds a NUL or a lone
surrogate, which PostgreSQL cannot store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.http import QueryDict
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from core.exceptions import PayloadTooLarge

# PostgreSQL text cannot hold NUL, and UTF-8 cannot hold a lone surrogate ("\ud800" is valid JSON).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def read_body(stream: IO[bytes] | None, parser_context: Mapping[str, Any] | None) -> bytes:
    """The whole body, refused with 413 once it passes the limit (by its Content-Length or by reading)."""
    if stream is None:
        return b""
    limit = settings.API_MAX_BODY_BYTES
    request = (parser_context or {}).get("request")
    length = request.META.get("CONTENT_LENGTH") if request is not None else None
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge()
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge()
    return body


def check_document(document: Any) -> None:
    """Walk a parsed JSON document without recursion: a bounded depth, only storable strings."""
    limit = settings.API_JSON_MAX_DEPTH
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if UNSTORABLE.search(value):
                raise ParseError(gettext("Text may not contain NUL characters or lone surrogates."))
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > limit:
            raise ParseError(gettext("JSON nested deeper than %(limit)d levels.") % {"limit": limit})
        items = list(value.items()) if isinstance(value, dict) else [(None, item) for item in value]
        for key, item in items:
            if key is not None:
                pending.append((key, depth))
            pending.append((item, depth + 1))


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        body = read_body(stream, parser_context)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            document = json.loads(body.decode(encoding), parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError(
                gettext("JSON nested deeper than %(limit)d levels.") % {"limit": settings.API_JSON_MAX_DEPTH}
            ) from None
        except (ValueError, LookupError) as error:
            raise ParseError(gettext("JSON parse error - %(error)s") % {"error": error}) from None
        check_document(document)
        return document


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259), and PostgreSQL's jsonb refuses them.
    raise ValueError(f"{name} is not valid JSON")


class PlainTextParser(parsers.BaseParser):
    """text/plain bodies, as a str (UTF-8 unless the request names another charset)."""

    media_type = "text/plain"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        body = read_body(stream, parser_context)
        charset = "utf-8"
        match = re.search(r"charset=([\w-]+)", media_type or "")
        if match:
            charset = match[1]
        try:
            text = body.decode(charset)
        except (UnicodeDecodeError, LookupError) as error:
            raise ParseError(
                _("The body is not %(charset)s text: %(error)s") % {"charset": charset, "error": error}
            ) from None
        if "\x00" in text:
            raise ParseError(gettext("Text may not contain NUL characters or lone surrogates."))
        return text


class FormParser(parsers.FormParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        return QueryDict(read_body(stream, parser_context), encoding=encoding)


class MultiPartParser(parsers.MultiPartParser):
    """Django's multipart parser: DATA_UPLOAD_MAX_MEMORY_SIZE (= API_MAX_BODY_BYTES) bounds the non-file fields."""
