"""File answers for MIDI, audio and piano rolls: conditional requests and byte ranges.

Audio players seek with ``Range`` requests, and some (iOS's, Safari's) refuse to play from a
server that does not answer them; browsers cache by ETag and Last-Modified.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from rest_framework.request import Request

# Positions of up to 18 digits (any file's); a longer one makes the range malformed, which
# is answered with the whole file.
_SINGLE_BYTE_RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")
_CHUNK_BYTES = 64 * 1024


class UnsatisfiableRange(Exception):
    """The requested range starts past the end of the file."""


def requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The first and last byte of a single ``bytes=`` range, or None for the whole file.

    Several ranges, other units and malformed ranges are answered with the whole file, as
    RFC 9110 allows. Raises ``UnsatisfiableRange`` for a range that lies outside the file.
    """
    match = _SINGLE_BYTE_RANGE.match(header.strip()) if header else None
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise UnsatisfiableRange
        return max(0, size - suffix), size - 1
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise UnsatisfiableRange
    return start, min(int(last), size - 1) if last else size - 1


def file_response(
    request: Request,
    path: Path,
    *,
    content_type: str,
    etag: str,
    modified: datetime,
    filename: str,
) -> HttpResponse:
    """The file (or the byte range asked for), or 304 when the client's copy still holds."""
    quoted_etag = f'"{etag}"'
    timestamp = int(modified.timestamp())
    not_modified = get_conditional_response(request, etag=quoted_etag, last_modified=timestamp)
    if not_modified is not None:
        not_modified["ETag"] = quoted_etag
        return not_modified
    size = path.stat().st_size
    span = None
    if request.headers.get("If-Range") in (None, quoted_etag, http_date(timestamp)):
        try:
            span = requested_range(request.headers.get("Range"), size)
        except UnsatisfiableRange:
            refused = JsonResponse(
                {"detail": f"The range starts past the end of the file ({size} bytes)."},
                status=416,
            )
            refused["Content-Range"] = f"bytes */{size}"
            return refused
    if span is None:
        response: HttpResponse = FileResponse(path.open("rb"), content_type=content_type)
    else:
        first, last = span
        response = StreamingHttpResponse(
            _read_span(path, first, last), status=206, content_type=content_type
        )
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Content-Length"] = str(last - first + 1)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = quoted_etag
    response["Last-Modified"] = http_date(timestamp)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=0, must-revalidate"
    return response


def _read_span(path: Path, first: int, last: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(first)
        remaining = last - first + 1
        while remaining > 0:
            chunk = handle.read(min(_CHUNK_BYTES, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
