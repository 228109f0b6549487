"""Reading and rewriting files the way effects need: digests, one line, an atomic rewrite that
keeps the mtime."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

from journal import faults
from journal.durability import IOContext
from journal.errors import CasFailed
from journal.platform import fsync_dir, with_retry


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class NotRegularFile(OSError):
    """A FIFO, socket, device or folder where a file was expected: never opened for reading."""

    def __init__(self, path: str | Path, kind: str) -> None:
        super().__init__(f"{path} is not a regular file ({kind})")
        self.kind = kind


# Opening a FIFO without O_NONBLOCK waits for a writer; with it, the open returns at once and
# the fstat below refuses it. O_NONBLOCK changes nothing for a regular file's reads.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)


def open_regular(path: str | Path, *, known_regular: bool = False) -> BinaryIO:
    """Open a regular file for reading, without ever blocking: anything else (a FIFO, a socket, a
    device, a folder) is refused with NotRegularFile before a byte is read, and a device is not
    even opened (opening one can have effects). `known_regular`: as for `open_regular_fd`."""
    fd, _ = open_regular_fd(path, known_regular=known_regular)
    try:
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def open_regular_fd(path: str | Path, *, known_regular: bool = False) -> tuple[int, os.stat_result]:
    """(descriptor, its fstat) of a regular file opened for reading, as `open_regular` checks it.
    `known_regular`: the caller's directory walk saw a regular file here a moment ago (scandir's
    file type), so the stat before the open is skipped; the fstat after the non-blocking open
    still refuses whatever replaced it (the same race the stat before leaves open)."""
    if not known_regular:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, kind_of(mode))
    fd = os.open(path, _READ_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # replaced between the check and the open
            raise NotRegularFile(path, kind_of(st.st_mode))
        return fd, st
    except BaseException:
        os.close(fd)
        raise


FIRST_READ = 64 << 10  # the first lines read here are 5-30 KB: one read almost always holds one


def read_first_line(path: str | Path, limit: int, *, known_regular: bool = False) -> tuple[bytes, os.stat_result]:
    """The file's first line (without its line end, at most `limit` bytes) and its fstat: raw
    reads on the descriptor, no buffered file object (a caller may read 10,000s of these)."""
    fd, st = open_regular_fd(path, known_regular=known_regular)
    try:
        parts: list[bytes] = []
        size = 0
        while size < limit:
            chunk = os.read(fd, min(FIRST_READ if not parts else 1 << 20, limit - size))
            if not chunk:
                break
            end = chunk.find(b"\n")
            if end >= 0:
                parts.append(chunk[:end])
                break
            parts.append(chunk)
            size += len(chunk)
        line = parts[0] if len(parts) == 1 else b"".join(parts)
        return line.rstrip(b"\r\n"), st
    finally:
        os.close(fd)


def kind_of(mode: int) -> str:
    """What a stat mode is, in words."""
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "fifo"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "device"), (stat.S_ISBLK, "device"),
                       (stat.S_ISLNK, "symlink")):
        if test(mode):
            return name
    return "special file"


def file_digest(path: str | Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open_regular(path) as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def prefix_digest(path: str | Path, length: int) -> str | None:
    """sha256 of the first `length` bytes, read in chunks (a file handed over by a journal may be
    any size); None when the file is shorter."""
    digest = hashlib.sha256()
    left = length
    with open_regular(path) as handle:
        while left > 0:
            chunk = handle.read(min(left, 1 << 20))
            if not chunk:
                return None
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def read_line(path: str | Path, number: int) -> bytes | None:
    """Line `number` (1-based) without its newline, or None if the file is shorter."""
    with open_regular(path) as handle:
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
