"""Change one field of a compact JSON line by editing only its bytes, then prove it.

Codex writes rollout lines with serde_json's compact form and its own key order.
Re-serializing a line could change other bytes (escapes, number forms), so edits here
replace just the bytes of one value, and then check by parsing that the line is the old
line with exactly that change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from journal.errors import ToolError


class EditRefused(ToolError):
    """The line does not have the expected shape; it is left alone."""

    category = "refused"
    code = "line_edit_refused"


def _occurrences(line: bytes, token: bytes) -> list[int]:
    found, start = [], 0
    while (at := line.find(token, start)) != -1:
        if at == 0 or line[at - 1 : at] != b"\\":
            found.append(at)
        start = at + 1
    return found


def replace_value(line: bytes, key: str, old: Any, new: Any, mutate: Callable[[dict[str, Any]], None]) -> bytes:
    """Replace the unique `"key":<old>` with `"key":<new>`; `mutate` applies the same change to the parsed line."""
    token = orjson.dumps(key) + b":" + orjson.dumps(old)
    places = _occurrences(line, token)
    if len(places) != 1:
        raise EditRefused(f"expected one {token.decode(errors='replace')} in the line, found {len(places)}")
    at = places[0]
    edited = line[:at] + orjson.dumps(key) + b":" + orjson.dumps(new) + line[at + len(token) :]
    return verify(line, edited, mutate)


def append_to_payload(line: bytes, key: str, value: Any, mutate: Callable[[dict[str, Any]], None]) -> bytes:
    """Add `"key":value` as the last field of the payload (the last object of the line)."""
    if not line.endswith(b"}}"):
        raise EditRefused("the line does not end with its payload object")
    edited = line[:-2] + b"," + orjson.dumps(key) + b":" + orjson.dumps(value) + b"}}"
    return verify(line, edited, mutate)


def verify(before: bytes, after: bytes, mutate: Callable[[dict[str, Any]], None]) -> bytes:
    try:
        expected = orjson.loads(before)
        got = orjson.loads(after)
    except orjson.JSONDecodeError as exc:
        raise EditRefused(f"the line is not JSON: {exc}") from exc
    mutate(expected)
    if expected != got:
        raise EditRefused("the byte edit changed more than the one field; the line is left alone")
    return after


def replace_strings(line: bytes, changes: dict[str, str], mutate: Callable[[dict[str, Any]], None]) -> bytes:
    """Replace string values (never keys) old -> new wherever the parsed change says so.

    Every value token `"old"` becomes `"new"`; the result must parse to exactly the old line
    with `mutate` applied, so a value that should stay (say, a message whose text is the old
    path) makes the edit refuse rather than change it. If token edits cannot express the
    change, a line that re-serializes byte for byte is rewritten through the parser.
    """
    edited = line
    for old, new in changes.items():
        token, replacement = orjson.dumps(old), orjson.dumps(new)
        out, start = bytearray(), 0
        while (at := edited.find(token, start)) != -1:
            end = at + len(token)
            before = edited[at - 1 : at]
            after = edited[end : end + 1]
            if before in (b":", b"[", b",") and after in (b",", b"]", b"}"):
                out += edited[start:at] + replacement
            else:
                out += edited[start:end]
            start = end
        edited = bytes(out + edited[start:])
    try:
        return verify(line, edited, mutate)
    except EditRefused:
        parsed = orjson.loads(line)
        if orjson.dumps(parsed) != line:
            raise
        mutate(parsed)
        return orjson.dumps(parsed)
