"""Items of a JSON array, or lines of a JSON Lines file, read incrementally from a stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from profiles.importers.records import ImportFormatError

CHUNK_CHARS = 1 << 16
# A single item larger than this is not a listen; stop rather than read the file into memory.
MAX_ITEM_CHARS = 1 << 20
_WHITESPACE = " \t\r\n"
_decoder = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class JsonItem:
    """Item ``number`` (1-based; the line number in JSON Lines) and its value or error."""

    number: int
    value: Any = None
    error: str | None = None


class _ArrayReader:
    """Decodes one array item at a time from a growing buffer that drops what it consumed."""

    def __init__(self, stream: TextIO, text: str) -> None:
        self.stream = stream
        self.text = text
        self.pos = 0
        self.eof = False

    def fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.stream.read(CHUNK_CHARS)
        if not chunk:
            self.eof = True
            return False
        self.text = self.text[self.pos :] + chunk
        self.pos = 0
        return True

    def next_char(self) -> str:
        """The next non-whitespace character ('' at the end), consumed."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.text):
                self.pos += 1
                return self.text[self.pos - 1]
            if not self.fill():
                return ""

    def decode(self) -> Any:
        if not self.next_char():
            raise ValueError("unexpected end of file")
        self.pos -= 1  # raw_decode must start on the value itself, not on whitespace
        while True:
            try:
                value, end = _decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if len(self.text) - self.pos > MAX_ITEM_CHARS or not self.fill():
                    raise ValueError(exc.msg) from None
                continue
            except RecursionError:
                raise ValueError("nested too deeply") from None
            # A value that touches the end of the buffer may have been cut short (a number).
            if end < len(self.text) or not self.fill():
                self.pos = end
                return value

    def items(self) -> Iterator[JsonItem]:
        """Items after the opening '[' (already consumed)."""
        first = self.next_char()
        if first == "]":
            return
        if first:
            self.pos -= 1
        number = 0
        while True:
            number += 1
            try:
                value = self.decode()
            except ValueError as exc:
                yield JsonItem(number, error=f"malformed JSON ({exc}); the rest was not read")
                return
            yield JsonItem(number, value)
            separator = self.next_char()
            if separator == "]":
                return
            if separator != ",":
                yield JsonItem(number + 1, error="expected ',' or ']'; the rest was not read")
                return


def iter_json_items(stream: TextIO) -> Iterator[JsonItem]:
    """Each item of a JSON array, or each non-blank line of a JSON Lines file.

    A malformed line of JSON Lines is reported and reading goes on; in an array, a
    malformed item ends the reading (nothing after it can be located reliably).
    """
    head = stream.read(CHUNK_CHARS)
    first = head.lstrip(_WHITESPACE)[:1]
    if first == "[":
        reader = _ArrayReader(stream, head)
        reader.next_char()
        yield from reader.items()
    elif first == "{":
        yield from _json_lines(_lines(head, stream))
    elif first:
        raise ImportFormatError("Expected a JSON array, or JSON Lines of objects.")


def _lines(head: str, stream: TextIO) -> Iterator[str]:
    pending = head
    for chunk in iter(lambda: stream.read(CHUNK_CHARS), ""):
        *complete, pending = (pending + chunk).split("\n")
        yield from complete
        if len(pending) > MAX_ITEM_CHARS:
            raise ImportFormatError("A line is longer than 1 MiB; this is not JSON Lines.")
    yield from pending.split("\n")


def _json_lines(lines: Iterator[str]) -> Iterator[JsonItem]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield JsonItem(number, json.loads(line))
        except json.JSONDecodeError as exc:
            yield JsonItem(number, error=f"malformed JSON ({exc.msg})")
