"""Reading and rewriting files the way effects need: digests, one line, an atomic rewrite that
keeps the mtime."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from journal import faults
from journal.durability import IOContext
from journal.errors import CasFailed
from journal.platform import fsync_dir, with_retry


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: str | Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def read_line(path: str | Path, number: int) -> bytes | None:
    """Line `number` (1-based) without its newline, or None if the file is shorter."""
    with open(path, "rb") as handle:
        for index, raw in enumerate(handle, start=1):
            if index == number:
                return raw[:-1] if raw.endswith(b"\n") else raw
    return None


def stale_temp_for(path: str) -> str:
    """The temp file a rewrite of `path` uses (and a crash may leave behind)."""
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.journal-tmp")


def replace_contents(path: str, data: bytes, st: os.stat_result, io: IOContext | None = None) -> None:
    """Write `data` as the new content of `path`: temp file beside it, same mode and mtime, atomic
    rename. `st` is the stat the caller's check was made against; a file changed since is refused."""
    temp = stale_temp_for(path)
    faults.point("write", temp)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, st.st_mode & 0o7777)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            if io is not None:
                io.sync_file(out.fileno(), path)
            else:
                faults.point("fsync", temp)
                os.fsync(out.fileno())
        faults.point("utime", temp)
        os.utime(temp, ns=(st.st_atime_ns, st.st_mtime_ns))
        now = os.stat(path)
        if (now.st_size, now.st_mtime_ns, now.st_ino) != (st.st_size, st.st_mtime_ns, st.st_ino):
            raise CasFailed(f"{path} changed while it was being rewritten")
        faults.point("rename", path)
        with_retry(lambda: os.replace(temp, path), path, "replace")
    except BaseException:
        try:
            if os.path.exists(temp):
                os.unlink(temp)
        except OSError:
            pass  # a leftover temp is removed by `recover`; the first error is the one to report
        raise
    if io is not None:
        io.sync_dir(os.path.dirname(path))
    else:
        faults.point("fsync_dir", os.path.dirname(path))
        fsync_dir(os.path.dirname(path))
