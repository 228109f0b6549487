"""A rollout's content whether it is plain (`.jsonl`) or compressed (`.jsonl.zst`).

Codex reads both forms (its worker compresses rollouts idle for 7 days, behind the feature
`local_thread_store_compression`) and prefers the plain file when both exist; rows keep
the plain name, except after Codex archives or unarchives a compressed file (it then
stores the `.zst` name). Reading the head streams only the first lines, never the whole
file; reading all of it is bounded, because a home may come from anywhere.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

import zstandard

from journal.fileio import open_regular
from journal.zstdio import decompress

ZST = ".zst"
MAX_CONTENT = 1 << 30  # a rollout that decompresses to more is left alone, never inflated whole
MAX_LINE = 64 << 20


def plain_name(path: str) -> str:
    """The `.jsonl` name of a rollout path, whichever form it names."""
    return path[: -len(ZST)] if path.endswith(".jsonl" + ZST) else path


def is_compressed(path: str) -> bool:
    return path.endswith(".jsonl" + ZST)


def head_lines(path: str, max_lines: int) -> Iterator[bytes]:
    """The first `max_lines` lines of a plain or compressed rollout, streamed (OSError and a
    damaged frame end the iteration)."""
    try:
        with open_regular(path) as raw:  # never a FIFO or a device
            stream: BinaryIO | io.BufferedReader = raw
            if is_compressed(path):
                stream = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw))
            for _ in range(max_lines):
                line = stream.readline(MAX_LINE)
                if not line:
                    return
                yield line
    except (OSError, zstandard.ZstdError, ValueError):
        return


def read_content(path: str, limit: int = MAX_CONTENT) -> tuple[bytes, bytes]:
    """(the file's bytes, its content): the same bytes for a plain rollout, decompressed (at most
    `limit` bytes, else ValueError) for a compressed one."""
    with open_regular(path) as handle:
        raw = handle.read()
    return raw, (decompress(raw, limit) if is_compressed(path) else raw)
