"""Stream a rollout's records one line at a time, plain or zstd-compressed, never whole.

A fork's `history_base` names the parent's history as the bytes before `end_byte_offset`, so
a reader can stop there. A line that is not JSON, or longer than `max_line`, is reported as a
damaged line and skipped; a compressed stream that breaks mid-way ends the file with a note.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson
import zstandard

from operations.errors import RolloutUnreadable

MAX_LINE = 64 << 20  # as the audit's first-line reader: a longer line is skipped, never held
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Line:
    offset: int  # byte offset of the line's start in the (decompressed) file
    record: dict[str, Any] | None  # None: the line is damaged (see `problem`)
    problem: str | None = None  # not_json, too_long, truncated_stream


def _open(path: str) -> BinaryIO:
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the caller's `with`
    except OSError as exc:
        raise RolloutUnreadable(f"cannot read {path}: {exc.strerror or exc}") from None
    if not path.endswith(".zst"):
        return raw
    reader = zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
    return io.BufferedReader(reader, buffer_size=1 << 20)


def iter_lines(path: str, *, end_offset: int | None = None, max_line: int = MAX_LINE) -> Iterator[Line]:
    """Every line of the rollout from its start, up to (not including) the line that starts at or
    after `end_offset`."""
    offset = 0
    with _open(path) as handle:
        while end_offset is None or offset < end_offset:
            try:
                raw = handle.readline(max_line + 1)
            except (zstandard.ZstdError, OSError, ValueError):
                yield Line(offset, None, "truncated_stream")
                return
            if not raw:
                return
            start = offset
            offset += len(raw)
            if len(raw) > max_line and not raw.endswith(b"\n"):
                try:
                    while raw and not raw.endswith(b"\n"):
                        raw = handle.readline(1 << 20)
                        offset += len(raw)
                except (zstandard.ZstdError, OSError, ValueError):
                    yield Line(start, None, "truncated_stream")
                    return
                yield Line(start, None, "too_long")
                continue
            text = raw.rstrip(b"\r\n")
            if start == 0 and text.startswith(BOM):
                text = text[len(BOM):]
            if not text.strip():
                continue
            try:
                record = orjson.loads(text)
            except orjson.JSONDecodeError:
                yield Line(start, None, "not_json")
                continue
            yield Line(start, record, None) if isinstance(record, dict) else Line(start, None, "not_json")
