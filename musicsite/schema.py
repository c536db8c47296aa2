"""OpenAPI generation: the error answers every endpoint can give, documented once."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from musicsite.api import RejectUnknownFields

_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        'Either {"detail": "message"} or field-level messages: {"field": ["message"]}.'
    ),
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {},
}
_ERROR_STATUSES = {
    "400": "Invalid input; the body names each offending field.",
    "401": "Missing or invalid token.",
    "403": "Not allowed for this account.",
    "404": "No such resource, or not yours.",
    "405": "Method not allowed.",
    "406": "Unacceptable Accept header.",
    "415": "Unsupported media type.",
    "429": "Too many requests; see the Retry-After header.",
    "503": "A model or service this answer needs is not available yet; the body says which.",
}


class ApiAutoSchema(AutoSchema):
    """Documents the error answers every endpoint can give, in the one shared shape, or in
    the view's own (its ``error_schema``, as the ListenBrainz-compatible views have)."""

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        schema = getattr(self.view, "error_schema", _ERROR_SCHEMA)
        for status_code, description in _ERROR_STATUSES.items():
            responses.setdefault(
                status_code,
                {
                    "description": description,
                    "content": {"application/json": {"schema": schema}},
                },
            )
        return responses

    def _map_basic_serializer(
        self, serializer: serializers.Serializer, direction: str
    ) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, RejectUnknownFields):
            schema["additionalProperties"] = False  # such a body answers 400 to other fields
        return schema
