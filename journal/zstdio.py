"""zstd frames as the engine reads and writes them: bounded decompression, one-shot compression.

Bounded because the files may come from anywhere (a home restored from a backup): a small
compressed file must not be allowed to inflate into all of memory.
"""

from __future__ import annotations

import zstandard

DEFAULT_LEVEL = 3


class TooLarge(ValueError):
    """The decompressed content is larger than the caller allows."""


def decompress(data: bytes, limit: int) -> bytes:
    """The content of the zstd frames in `data`; TooLarge past `limit` bytes, ValueError when
    damaged or cut short (a streaming reader alone returns a truncated frame's prefix silently)."""
    try:
        size = 0
        with zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True) as reader:
            while chunk := reader.read(min(1 << 20, limit + 1 - size)):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"decompresses to more than {limit} bytes")
        out, rest = bytearray(), data
        while rest:  # now known to fit: decode frame by frame, each one checked to be whole
            frame = zstandard.ZstdDecompressor().decompressobj()
            out += frame.decompress(rest)
            if not frame.eof:
                raise ValueError("not a readable zstd file: the last frame is cut short")
            rest = frame.unused_data
    except zstandard.ZstdError as exc:
        raise ValueError(f"not a readable zstd file: {exc}") from None
    if not data:
        raise ValueError("not a readable zstd file: it is empty")
    return bytes(out)


def read_decompressed(path: str, limit: int) -> tuple[bytes, bytes]:
    """(the file's bytes, their decompressed content)."""
    with open(path, "rb") as handle:
        raw = handle.read()
    return raw, decompress(raw, limit)


def compress(data: bytes, level: int = DEFAULT_LEVEL) -> bytes:
    """One frame with the content size in its header."""
    return zstandard.ZstdCompressor(level=level).compress(data)
