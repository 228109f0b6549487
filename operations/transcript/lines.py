"""Stream a rollout's records one line at a time, plain or zstd-compressed, never whole.

A fork's `history_base` names the parent's history as the bytes before `end_byte_offset`
(counted in the decompressed file), so a reader can stop there. A line that is not JSON, or
longer than `max_line`, is reported as damaged and skipped; a compressed file that ends
mid-frame (a copy cut short) ends the lines with a `truncated_stream` line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson
import zstandard

from operations.errors import RolloutUnreadable

MAX_LINE = 64 << 20  # as the audit's first-line reader: a longer line is skipped, never held
PLAIN_CHUNK = 1 << 20
COMPRESSED_CHUNK = 256 << 10  # rollouts compress about tenfold: a few MB decompressed at a time
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Line:
    offset: int  # byte offset of the line's start in the (decompressed) file
    record: dict[str, Any] | None  # None: the line is damaged (see `problem`)
    problem: str | None = None  # not_json, too_long, truncated_stream


class _Truncated(Exception):
    pass


def _open(path: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise RolloutUnreadable(f"cannot read {path}: {exc.strerror or exc}") from None


def _chunks(handle: BinaryIO, compressed: bool) -> Iterator[bytes]:
    if not compressed:
        while block := handle.read(PLAIN_CHUNK):
            yield block
        return
    decompressor = zstandard.ZstdDecompressor()
    stream = decompressor.decompressobj()
    started = False
    while block := handle.read(COMPRESSED_CHUNK):
        while block:
            if stream.eof:  # a second frame follows the first
                stream = decompressor.decompressobj()
            started = True
            try:
                out = stream.decompress(block)
            except zstandard.ZstdError:
                raise _Truncated from None
            if out:
                yield out
            block = stream.unused_data if stream.eof else b""
    if started and not stream.eof:
        raise _Truncated


def _parse(raw: bytes | bytearray, offset: int) -> Line:
    if offset == 0 and raw.startswith(BOM):
        raw = raw[len(BOM):]
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Line(offset, None, "not_json")
    return Line(offset, record, None) if isinstance(record, dict) else Line(offset, None, "not_json")


def iter_lines(path: str, *, end_offset: int | None = None, max_line: int = MAX_LINE) -> Iterator[Line]:
    """Every non-blank line of the rollout from its start, up to (not including) the line that
    starts at or after `end_offset`."""
    buffer = bytearray()
    base = 0  # file offset of buffer[0]
    skipping: int | None = None  # where a line too long to hold started
    with _open(path) as handle:
        try:
            for chunk in _chunks(handle, path.endswith(".zst")):
                buffer += chunk
                at = 0
                while True:
                    if end_offset is not None and base + at >= end_offset:
                        return
                    newline = buffer.find(b"\n", at)
                    if newline < 0:
                        break
                    if skipping is not None:
                        yield Line(skipping, None, "too_long")
                        skipping = None
                    elif newline - at > max_line:
                        yield Line(base + at, None, "too_long")
                    elif buffer[at:newline].strip():
                        yield _parse(buffer[at:newline], base + at)
                    at = newline + 1
                del buffer[:at]
                base += at
                if len(buffer) > max_line:  # no end in sight: count it, hold none of it
                    skipping = base if skipping is None else skipping
                    base += len(buffer)
                    buffer.clear()
        except _Truncated:
            yield Line(base, None, "truncated_stream")
            return
    if end_offset is not None and base >= end_offset:
        return
    if skipping is not None:
        yield Line(skipping, None, "too_long")
    elif buffer.strip():
        yield _parse(buffer, base)
