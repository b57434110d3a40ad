"""Stored files served through views that check who may have them, in byte ranges so that players can seek."""

from __future__ import annotations

import re
from typing import IO

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase

RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class _Slice:
    """The next `length` bytes of an open file, read like a file: what FileResponse streams for a byte range."""

    def __init__(self, handle: IO[bytes], length: int) -> None:
        self.handle = handle
        self.left = length

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(self.left if size < 0 else min(size, self.left))
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.handle.close()


def ranged_file_response(request: HttpRequest, file: FieldFile, content_type: str | None) -> HttpResponseBase:
    """The whole file, or the one byte range the ``Range`` header asks for (206; 416 past the end), so that
    an audio player can seek. Streamed, whatever the file's size; a missing file is a 404."""
    try:
        size = file.size
        handle = file.open("rb")
    except (ValueError, OSError):  # no file, or missing from storage
        raise Http404 from None
    name = (file.name or "").rsplit("/", 1)[-1]
    wanted = requested_range(request.headers.get("Range", ""), size)
    if wanted is None:
        response = FileResponse(handle, filename=name, content_type=content_type)
    elif not wanted:
        handle.close()
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        return refused
    else:
        handle.seek(wanted.start)
        response = FileResponse(_Slice(handle, len(wanted)), status=206, filename=name, content_type=content_type)
        response["Content-Length"] = str(len(wanted))
        response["Content-Range"] = f"bytes {wanted.start}-{wanted.stop - 1}/{size}"
    response["Accept-Ranges"] = "bytes"
    return response


def requested_range(header: str, size: int) -> range | None:
    """The bytes a ``Range`` header asks for out of ``size``: None for the whole file (no header, or one
    this does not serve), an empty range when it starts past the end."""
    match = RANGE.fullmatch(header.strip())
    if match is None or not any(match.groups()):
        return None
    first, last = match.groups()
    if not first:  # "bytes=-N": the last N bytes
        return range(max(size - int(last), 0), size)
    return range(int(first), min(int(last), size - 1) + 1 if last else size)
