"""SQL literals of the hot path's values, written as psycopg writes them.

The engine sends each batch of statements with its values in the text (see .rows).
psycopg's `Transformer.as_literal` writes any value, but finds each one's dumper by
its type and goes through that dumper's `quote` (libpq's PQescapeLiteral for text):
about a microsecond a value, and a delivery has some eighty. The values the engine
writes are few kinds, each with a fixed spelling, so `Literals` writes those kinds
itself and gives everything else to psycopg. `tests/delivery/test_literals.py` checks,
value by value, that both spell every kind alike.

The spellings (psycopg 3, text format, a UTF-8 connection):
- NULL, true, false; an int as its digits, a negative one after a space (psycopg's
  Int2, Int4, Int8 too, which Django makes of an integer field's value);
- text in single quotes, each quote doubled; text with a backslash as E'...' after a
  space, each backslash doubled too (PQescapeLiteral,
  https://www.postgresql.org/docs/current/libpq-exec.html#LIBPQ-PQESCAPELITERAL);
- a UTC datetime as str() gives it, a date and a UUID (hex), each with its cast;
- a Jsonb as its JSON text (its own `dumps`), quoted as text, cast to jsonb.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from psycopg.adapt import Transformer
from psycopg.types.json import Jsonb
from psycopg.types.numeric import Int2, Int4, Int8


def text_literal(text: str) -> bytes:
    """`text` quoted as PQescapeLiteral quotes it (UTF-8). NUL cannot be sent: the
    caller leaves such text to psycopg, which raises its own error."""
    quoted = text.replace("'", "''")
    if "\\" in quoted:
        return b" E'" + quoted.replace("\\", "\\\\").encode() + b"'"
    return b"'" + quoted.encode() + b"'"


def _int(value: int) -> bytes:
    return b" %d" % value if value < 0 else b"%d" % value


def _text(value: str) -> bytes | None:
    return None if "\x00" in value else text_literal(value)


def _datetime(value: datetime) -> bytes | None:
    if value.tzinfo is not UTC:  # naive, or another zone: psycopg's own spelling
        return None
    return b"'" + str(value).encode() + b"'::timestamptz"


def _date(value: date) -> bytes:
    return b"'" + value.isoformat().encode() + b"'::date"


def _uuid(value: uuid.UUID) -> bytes:
    return b"'" + value.hex.encode() + b"'::uuid"


def _jsonb(value: Jsonb) -> bytes | None:
    if value.dumps is None:  # psycopg's global dumps: left to psycopg
        return None
    text = value.dumps(value.obj)
    if not isinstance(text, str) or "\x00" in text:
        return None
    return text_literal(text) + b"::jsonb"


# By exact type: a subclass (bool of int, a choice of str) may be spelt otherwise.
_WRITERS: dict[type, Callable[[Any], bytes | None]] = {
    type(None): lambda _: b"NULL",
    bool: lambda value: b"true" if value else b"false",
    int: _int,
    Int2: _int,
    Int4: _int,
    Int8: _int,
    str: _text,
    datetime: _datetime,
    date: _date,
    uuid.UUID: _uuid,
    Jsonb: _jsonb,
}


class Literals:
    """Values as SQL literals for one connection (psycopg's for what is not above)."""

    def __init__(self, pgconnection: Any) -> None:
        self._psycopg = Transformer.from_context(pgconnection).as_literal
        # The spellings above are UTF-8's; any other client encoding goes to psycopg.
        self._own = pgconnection.info.encoding == "utf-8"

    def __call__(self, value: Any) -> bytes:
        if isinstance(value, enum.Enum):  # a choice (TextChoices...): its value
            value = value.value
        writer = _WRITERS.get(type(value)) if self._own else None
        if writer is not None:
            try:
                written = writer(value)
            except UnicodeEncodeError:  # a lone surrogate: psycopg's error
                written = None
            if written is not None:
                return written
        return self._psycopg(value)


__all__ = ["Literals", "text_literal"]
