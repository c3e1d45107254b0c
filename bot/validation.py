"""Reading untrusted input at the edge: ids, text and JSON, each checked against what storage can hold.

Every HTTP handler and the Slack command parsing read their input through these parsers, so a value that
reaches a domain function is one the database can store. Each raises :class:`InvalidInput`, whose message
names the field; handlers answer it 4xx and store nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import BigInteger, Integer, SmallInteger, String
from sqlalchemy.orm import InstrumentedAttribute

MAX_JSON_DEPTH = 64  # Slack's deepest payloads (rich-text blocks in a modal's state) nest about a dozen levels
ASCII_DIGITS = re.compile(r"[0-9]+")
# A JSON string token (with its escapes) or one bracket: what the depth scan looks at, strings skipped whole.
_JSON_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset(b"[{")


class InvalidInput(ValueError):
    """Input that cannot be taken; the message is "<field>: <what is wrong>"."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


# -- integers -------------------------------------------------------------------------------------------


def int_range(column: InstrumentedAttribute) -> tuple[int, int]:
    """The values a model's integer column holds on every database (PostgreSQL's sizes; SQLite holds more)."""
    kind = column.type
    bits = 16 if isinstance(kind, SmallInteger) else 64 if isinstance(kind, BigInteger) else 32
    if not isinstance(kind, Integer):
        raise TypeError(f"{column} is not an integer column")
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def parse_digits(raw: str, field: str, *, maximum: int) -> int:
    """A non-negative integer written in ASCII digits, at most `maximum`.

    Not `str.isdigit`: it accepts "²" and other digits `int` refuses, and an unbounded length `int` will not
    convert."""
    text = raw.strip() if isinstance(raw, str) else ""
    if not ASCII_DIGITS.fullmatch(text):
        raise InvalidInput(field, f"{_quote(raw)} is not a number (ASCII digits 0-9)")
    if len(text.lstrip("0")) > len(str(maximum)) or int(text) > maximum:
        raise InvalidInput(field, f"{_quote(raw)} is out of range (at most {maximum})")
    return int(text)


def parse_id(raw: str, field: str, column: InstrumentedAttribute) -> int:
    """An id for `column` (e.g. ``Campaign.id``): ASCII digits within the range its SQL type holds."""
    return parse_digits(raw, field, maximum=int_range(column)[1])


def check_int(value: Any, field: str, column: InstrumentedAttribute) -> int:
    """An integer (already parsed, from JSON) that `column` can hold."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, "must be an integer")
    low, high = int_range(column)
    if not low <= value <= high:
        raise InvalidInput(field, f"{value} is out of range ({low} to {high})")
    return value


# -- text -----------------------------------------------------------------------------------------------


def max_length(column: InstrumentedAttribute) -> int | None:
    """The length a model's String column holds (None for unbounded Text)."""
    kind = column.type
    return kind.length if isinstance(kind, String) else None


def check_text(
    value: Any,
    field: str,
    *,
    column: InstrumentedAttribute | None = None,
    limit: int | None = None,
) -> str:
    """`value` if it is a string the database stores as given: valid Unicode (no lone surrogate), no NUL,
    and no longer than `limit` or the column's length."""
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a string, got {_json_kind(value)}")
    if "\x00" in value:
        raise InvalidInput(field, "contains a NUL character")
    if not _encodable(value):
        raise InvalidInput(field, "is not valid Unicode (it contains a lone surrogate)")
    bound = limit if limit is not None else (max_length(column) if column is not None else None)
    if bound is not None and len(value) > bound:
        raise InvalidInput(field, f"is {len(value)} characters long; at most {bound}")
    return value


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- JSON -----------------------------------------------------------------------------------------------


def json_depth(raw: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest, found without parsing it (brackets inside
    strings do not count). The standard parser recurses once per level and cannot be told to stop."""
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(raw):
        first = token.group()[0]
        if first in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif first != 0x22:  # a closing bracket (0x22 is '"', a string)
            depth -= 1
    return deepest


def load_json(raw: bytes | str, field: str = "body", *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a JSON document after checking its size and nesting depth; every string in it (keys too) must
    pass :func:`check_text`'s character rules. Raises :class:`InvalidInput` naming `field`."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if len(data) > max_bytes:
        raise InvalidInput(field, f"is {len(data)} bytes; at most {max_bytes}")
    if json_depth(data) > max_depth:
        raise InvalidInput(field, f"nests deeper than {max_depth} levels")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(field, "is not valid UTF-8") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(field, f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError:  # a number of more digits than Python converts
        raise InvalidInput(field, "holds a number too long to read") from None
    _check_strings(document, field)
    return document


def _check_strings(value: Any, path: str) -> None:
    """NUL and lone surrogates are refused anywhere in a document (JSON escapes can carry both)."""
    if isinstance(value, str):
        check_text(value, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, f"{path} (a key)")
            _check_strings(item, f"{path}.{key[:40]}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{path}[{index}]")


def require_object(value: Any, field: str) -> dict:
    """`value` if it is a JSON object."""
    if not isinstance(value, dict):
        raise InvalidInput(field, f"must be an object, got {_json_kind(value)}")
    return value


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}.get(
        type(value), "an object" if isinstance(value, dict) else type(value).__name__
    )


def _quote(raw: Any) -> str:
    text = repr(raw) if isinstance(raw, str) else _json_kind(raw)
    return text if len(text) <= 40 else text[:37] + "…'"


def parse_form(raw: bytes) -> dict[str, str]:
    """A url-encoded form as a dict (first value of repeated fields); InvalidInput when it is not one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("body", "is not valid UTF-8") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("body", "is not a valid url-encoded form") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form
