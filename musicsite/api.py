"""REST conventions shared by every app: pagination and one JSON error shape."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import exception_handler as drf_exception_handler

from artifacts.services import ArtifactUnavailable

logger = logging.getLogger(__name__)


class PagePagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        """As DRF's (a larger one gives ``max_page_size``), but a ``page_size`` that is not
        a whole number from 1 is a 400."""
        given = request.query_params.get(self.page_size_query_param)
        readable = bool(given) and given.isascii() and given.isdigit() and len(given) < 10
        if given and not (readable and int(given) > 0):  # an empty one is no page size
            raise exceptions.ValidationError(
                {self.page_size_query_param: ["A whole number from 1 (at most 200 are given)."]}
            )
        return super().get_page_size(request)


# Pieces of a streamed JSON document are sent in chunks of about this many characters.
_STREAM_CHUNK_CHARS = 64 * 1024


def json_chunks(document: Any) -> Iterator[str]:
    """``document`` as JSON text, in chunks, as DRF's renderer writes it: the iterators in it
    (a generator over a million listens, say) become arrays read as they are written, so
    the whole never sits in memory."""
    buffer: list[str] = []
    size = 0
    encoder = JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for piece in _json_pieces(document, encoder):
        # As DRF's renderer: line and paragraph separators escaped, for JavaScript's sake.
        piece = piece.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        buffer.append(piece)
        size += len(piece)
        if size >= _STREAM_CHUNK_CHARS:
            yield "".join(buffer)
            buffer, size = [], 0
    yield "".join(buffer)


def _json_pieces(value: Any, encoder: JSONEncoder) -> Iterator[str]:
    if isinstance(value, Mapping):
        yield "{"
        for number, (key, item) in enumerate(value.items()):
            yield f"{',' if number else ''}{encoder.encode(str(key))}:"
            yield from _json_pieces(item, encoder)
        yield "}"
    elif isinstance(value, Iterator):
        yield "["
        for number, item in enumerate(value):
            yield f"{',' if number else ''}{encoder.encode(item)}"
        yield "]"
    else:
        yield encoder.encode(value)


class RejectUnknownFields(serializers.Serializer):
    """A request body naming a field this request does not take is a 400 naming it, rather
    than quietly ignored: a misspelt ``temprature`` would otherwise give the default."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, Mapping):
            accepted = [name for name, field in self.fields.items() if not field.read_only]
            unknown = sorted(set(data) - set(accepted))
            if unknown:
                message = f"Unknown field; this request takes: {', '.join(accepted)}."
                raise serializers.ValidationError({name: [message] for name in unknown})
        return super().to_internal_value(data)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus model-level validation and integrity errors as 400s.

    Every error body is either ``{"field": ["message"]}`` or ``{"detail": "message"}``.
    """
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, ArtifactUnavailable):
        # Any endpoint whose model is not trained yet, or unusable, says which and why.
        exc = exceptions.APIException(f"Model unavailable: {exc}")
        exc.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    elif isinstance(exc, Http404):
        # Django's message names the model ("No GenerationRequest matches ..."): say less.
        exc = exceptions.NotFound()
    elif isinstance(exc, RequestDataTooBig):
        exc = exceptions.APIException(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        )
        exc.status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    elif isinstance(exc, IntegrityError):
        logger.warning("integrity error answered as 409: %s", exc)
        exc = exceptions.APIException("The request conflicts with existing data.")
        exc.status_code = status.HTTP_409_CONFLICT
    return drf_exception_handler(exc, context)


# Where the ListenBrainz-compatible API is mounted (musicsite/urls.py): its clients expect
# ListenBrainz's error shape.
LISTENBRAINZ_PREFIX = "/1/"


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if request.path.startswith(LISTENBRAINZ_PREFIX):
        return JsonResponse({"code": 404, "error": "Not found."}, status=404)
    return JsonResponse({"detail": "Not found."}, status=404)


def json_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "Internal server error."}, status=500)


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": "Bad request."}, status=400)


def json_permission_denied(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse:
    return JsonResponse({"detail": "Permission denied."}, status=403)
