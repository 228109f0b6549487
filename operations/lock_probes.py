"""OS lock probes: is a Codex writer lock held, is a database open in another process.

* a held `thread-writer-locks/*.lock` (Codex takes them with Rust's `File::try_lock`:
  `flock` on Linux and macOS, `LockFileEx` over the whole file on Windows);
* another process with the state database open: every SQLite connection in WAL mode holds a
  shared lock on the DMS byte (128) of the `-shm` file. POSIX: F_GETLK reports it without
  taking anything (with each OS's own `struct flock` layout). Windows: a non-blocking
  exclusive lock attempt on that byte, released at once, as SQLite itself tries when a
  connection opens.
The OS adapters take their system calls as arguments, so each is tested on any OS; no POSIX-only
module is imported unconditionally.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from journal.sqlio import SQLITE_ERRORS, require_regular

WRITER_LOCKS = "thread-writer-locks"
NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO without it waits for a writer
WAL_DMS_BYTE = 128
SOME_PROCESS = 0  # a database user whose pid the OS does not tell (Windows)


@dataclass(frozen=True)
class FlockLayout:
    """`struct flock` of one OS, and its fcntl constants (from its <fcntl.h>)."""

    fmt: str  # struct format, native alignment
    fields: tuple[str, ...]
    F_GETLK: int
    F_WRLCK: int
    F_UNLCK: int

    def pack(self, l_type: int, start: int, length: int, whence: int = 0, pid: int = 0) -> bytes:
        values = {"l_type": l_type, "l_whence": whence, "l_start": start, "l_len": length, "l_pid": pid}
        return struct.pack(self.fmt, *(values[f] for f in self.fields))

    def unpack(self, data: bytes) -> dict[str, int]:
        return dict(zip(self.fields, struct.unpack(self.fmt, data), strict=True))


# Linux: short l_type, l_whence; off_t l_start, l_len; pid_t l_pid (padded to 32 bytes)
LINUX_FLOCK = FlockLayout("hhqqi4x", ("l_type", "l_whence", "l_start", "l_len", "l_pid"), 5, 1, 2)
# Darwin: off_t l_start, l_len; pid_t l_pid; short l_type, l_whence (24 bytes)
DARWIN_FLOCK = FlockLayout("qqihh", ("l_start", "l_len", "l_pid", "l_type", "l_whence"), 7, 3, 2)


class LockProbe(Protocol):
    def writer_lock_held(self, path: Path) -> bool: ...

    def database_user(self, db: Path) -> int | None:
        """The pid of another process with `db` open (SOME_PROCESS: pid unknown), else None."""
        ...


class PosixProbe:
    """Linux and macOS: flock for the writer locks, F_GETLK for the database."""

    def __init__(self, layout: FlockLayout, fcntl_call: Callable[[int, int, bytes], bytes] | None = None,
                 flock_call: Callable[[int, int], Any] | None = None) -> None:
        self.layout = layout
        self._fcntl = fcntl_call
        self._flock = flock_call

    def writer_lock_held(self, path: Path) -> bool:
        try:  # never blocks: a FIFO named like a lock file opens at once (and is no lock)
            fd = os.open(path, os.O_RDONLY | NONBLOCK)
        except OSError:
            return False
        try:
            return not self._try_flock(fd)
        finally:
            os.close(fd)

    def _try_flock(self, fd: int) -> bool:
        """Take and release an exclusive flock; False when another holder has it."""
        if sys.platform == "win32":
            raise NotImplementedError("flock is POSIX")
        else:
            import fcntl

            flock = self._flock or fcntl.flock
            try:
                flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            flock(fd, fcntl.LOCK_UN)
            return True

    def database_user(self, db: Path) -> int | None:
        shm = Path(str(db) + "-shm")
        if not shm.exists():
            return None
        call = self._fcntl or _fcntl_bytes
        try:
            fd = os.open(shm, os.O_RDONLY | NONBLOCK)
        except OSError:
            return None
        try:
            answer = self.layout.unpack(call(fd, self.layout.F_GETLK,
                                             self.layout.pack(self.layout.F_WRLCK, WAL_DMS_BYTE, 1)))
        except OSError:
            return None
        finally:
            os.close(fd)
        return None if answer["l_type"] == self.layout.F_UNLCK else int(answer["l_pid"])


def _fcntl_bytes(fd: int, op: int, arg: bytes) -> bytes:
    if sys.platform == "win32":
        raise NotImplementedError("fcntl is POSIX")
    else:
        import fcntl

        return fcntl.fcntl(fd, op, arg)


class WindowsLockApi(Protocol):
    def try_lock(self, fd: int, offset: int, length: int) -> bool: ...

    def unlock(self, fd: int, offset: int, length: int) -> None: ...


class MsvcrtLockApi:
    """LockFile/UnlockFile through msvcrt: a byte range, non-blocking, on an open file."""

    def try_lock(self, fd: int, offset: int, length: int) -> bool:
        import msvcrt

        os.lseek(fd, offset, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, length)  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            return False
        return True

    def unlock(self, fd: int, offset: int, length: int) -> None:
        import msvcrt

        os.lseek(fd, offset, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, length)  # type: ignore[attr-defined,unused-ignore]


class WindowsProbe:
    """Windows: byte-range lock attempts, never truncating or deleting Codex's files.

    Rust's `try_lock` locks the whole file, so any byte of a held writer lock is taken; the
    probe opens read-only, tries byte 0 and releases it at once. A file that cannot even be
    opened for reading (a sharing violation) is in use: held."""

    def __init__(self, api: WindowsLockApi | None = None) -> None:
        self.api = api or MsvcrtLockApi()

    def _busy(self, path: Path, offset: int) -> bool | None:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            return None
        except PermissionError:
            return True
        try:
            if self.api.try_lock(fd, offset, 1):
                self.api.unlock(fd, offset, 1)
                return False
            return True
        finally:
            os.close(fd)

    def writer_lock_held(self, path: Path) -> bool:
        return bool(self._busy(path, 0))

    def database_user(self, db: Path) -> int | None:
        return SOME_PROCESS if self._busy(Path(str(db) + "-shm"), WAL_DMS_BYTE) else None


class NoLockProbe:
    """A system without the calls we need: say so rather than guess."""

    def writer_lock_held(self, path: Path) -> bool:
        return False

    def database_user(self, db: Path) -> int | None:
        return None


def probe_for(platform: str = sys.platform) -> LockProbe:
    try:
        if platform == "win32":
            import msvcrt  # noqa: F401

            return WindowsProbe()
        import fcntl  # noqa: F401
    except ImportError:
        return NoLockProbe()
    return PosixProbe(DARWIN_FLOCK if platform == "darwin" else LINUX_FLOCK)


PROBE: LockProbe = probe_for()
def held_writer_locks(codex_home: Path, probe: LockProbe | None = None) -> list[str]:
    """Thread ids whose writer lock some process holds right now."""
    folder = codex_home / WRITER_LOCKS
    if not folder.is_dir():
        return []
    probe = probe or PROBE
    held = []
    for entry in sorted(folder.iterdir()):
        if not entry.name.endswith(".lock") or entry.name.startswith("."):
            continue
        if probe.writer_lock_held(entry):
            held.append(entry.name[: -len(".lock")])
    return held


def database_is_locked(db: Path, timeout_s: float = 0.5) -> bool:
    """True when BEGIN IMMEDIATE cannot get the write lock (another writer holds it)."""
    if not db.exists():
        return False
    try:
        require_regular(str(db))
        conn = sqlite3.connect(db, timeout=timeout_s, isolation_level=None)
    except SQLITE_ERRORS:
        return False  # not a database SQLite can open: the damage check says so
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc) or "busy" in str(exc)
    except SQLITE_ERRORS:
        return False
    finally:
        conn.close()
