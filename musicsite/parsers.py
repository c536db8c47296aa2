"""Request parsers for every API.

Its own module, importing no DRF views: DRF resolves DEFAULT_PARSER_CLASSES while it
defines APIView, so a parser module that imports ``rest_framework.views`` (as
``musicsite.api`` does) would import itself half-made.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's parser, with JSON nested too deeply for Python's parser a 400, not a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
