"""Canonical bytes for journal lines, and JSON-safe forms of bytes and SQLite values."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

_B64 = "$b64"


def encode_line(record: dict[str, Any]) -> bytes:
    """One compact line with sorted keys; its exact bytes are what the chain hashes."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def decode_line(line: bytes) -> dict[str, Any]:
    value = orjson.loads(line)
    if not isinstance(value, dict):
        raise ValueError("journal line is not a JSON object")
    return value


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def bytes_to_json(data: bytes) -> Any:
    """Text when the bytes are UTF-8 (readable in the journal), else base64."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {_B64: base64.b64encode(data).decode("ascii")}


def bytes_from_json(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and _B64 in value:
        return base64.b64decode(value[_B64])
    raise ValueError(f"not an encoded byte string: {value!r}")


def sql_to_json(value: Any) -> Any:
    """SQLite values are int, float, str, None or bytes; bytes become base64."""
    if isinstance(value, bytes):
        return {_B64: base64.b64encode(value).decode("ascii")}
    return value


def sql_from_json(value: Any) -> Any:
    if isinstance(value, dict) and _B64 in value:
        return base64.b64decode(value[_B64])
    return value
