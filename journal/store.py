"""The writable journal: one writer at a time, appends that are whole lines, and fsync.

Opening for write verifies the whole chain, sets a torn last line aside, and refuses a
corrupt journal or one with operations left pending by a crash.

No process outlives its run holding the journal: the lock and the journal are closed in
every child this process forks (a worker keeps nothing of them), and a lock held by a
process that inherited it from a holder now dead (the lock file names the holder's pid,
host and start time) is recognised as stale and replaced, so it never blocks a later run.
A write or fsync the disk refuses ends in an IOFailure; the writer then writes nothing more
(a partial line is cut off again, or set aside as a torn tail by the next writer).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import time
from types import TracebackType
from typing import Any

from orjson import loads as json_loads

from journal import FORMAT_VERSION, faults
from journal.clock import Services
from journal.codec import bytes_to_json, encode_line, line_hash
from journal.errors import IOFailure, JournalCorrupt, LockHeld, PendingRecovery, io_failure
from journal.platform import (
    IS_WINDOWS,
    fsync_dir,
    fsync_journal,
    process_alive,
    process_started,
    try_lock_exclusive,
    unlock,
)
from journal.records import who
from journal.scan import ScanResult, TornTail, scan

# Descriptors of open writers (journal and lock): closed in every forked child, so no worker
# process ever holds the lock or the journal, whatever becomes of its parent.
_INHERITABLE: set[int] = set()


def _close_in_child() -> None:
    for fd in list(_INHERITABLE):
        with contextlib.suppress(OSError):
            os.close(fd)  # never unlock here: the lock belongs to the parent's open file
    _INHERITABLE.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_in_child)


NOTHING_CHANGED = "Nothing was changed; free space (or fix the disk), then run the command again"


def lock_path(journal_path: str) -> str:
    return journal_path + ".lock"


class JournalWriter:
    """Append-only writer holding the journal's lock for its whole life."""

    def __init__(self, path: str, services: Services, *, allow_pending: bool = False,
                 argv: list[str] | None = None) -> None:
        self.path = os.path.abspath(path)
        self.argv = argv or []
        self.services = services
        self.allow_pending = allow_pending
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self.seq = -1
        self.last_hash: str | None = None
        self.scan_result: ScanResult | None = None
        self.torn_repaired: dict[str, Any] | None = None
        self._size = 0
        self.failed: IOFailure | None = None  # set once a write or fsync failed: nothing more is written
        self.stale_lock_replaced = False
        self._new = False  # a genesis record is due before the first record
        self._torn: TornTail | None = None  # a torn last line to set aside before the first record

    def __enter__(self) -> JournalWriter:
        self.open()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def open(self) -> None:
        folder = os.path.dirname(self.path)
        try:
            if not os.path.isdir(folder):
                os.makedirs(folder, mode=0o700, exist_ok=True)
                os.chmod(folder, 0o700)
            self._take_lock()
        except OSError as exc:
            raise io_failure(exc, "taking the journal's lock", NOTHING_CHANGED) from None
        try:
            result = scan(self.path)
            self.scan_result = result
            if result.problems:
                first, tool = result.problems[0], self.services.tool
                raise JournalCorrupt(
                    f"journal {self.path} is damaged at line {first.line} (offset {first.offset}): "
                    f"{first.message}; writes are refused. `{tool.command('verify')}` shows the damage. The journal "
                    "is never repaired in place: to go on, move it aside (it stays readable where you put it: "
                    f"`{tool.command('log', journal='MOVED')}`) and the next write starts a new one",
                    details={"problems": [p.__dict__ for p in result.problems[:20]]},
                )
            # Nothing is written until the first record is: a run refused after taking the lock
            # (an unknown id, the caller's safety gate) leaves the journal exactly as it found it.
            self._new = not result.exists or (result.lines == 0 and result.torn is None)
            if not self._new:
                self.seq = result.last_seq
                self.last_hash = result.last_hash
                self._torn = result.torn
            if result.pending and not self.allow_pending:
                ids = ", ".join(sorted(result.pending)[:5])
                raise PendingRecovery(
                    f"{len(result.pending)} operation(s) were left pending by an interrupted run ({ids}); "
                    f"run `{self.services.tool.command('recover')}` first",
                    details={"pending": sorted(result.pending)},
                )
        except BaseException:
            self.close()
            raise

    def _take_lock(self) -> None:
        """Lock, then write who holds it into the lock file, so a refused writer can name us; a
        lock kept by a process that inherited it from a dead holder is replaced. Takers take
        turns on a guard lock for these few steps, so a note is never read half way between a
        holder's lock and its note."""
        guard = _take_guard(lock_path(self.path) + ".guard")
        try:
            fd = self._lock_current()
            if fd is None and guard is not None and not IS_WINDOWS and lock_is_stale(self.path):
                fd = self._replace_stale_lock()
            if fd is None:
                holder = read_lock_holder(self.path)
                raise LockHeld(
                    f"another {self.services.tool.name} run is writing this journal{holder}: it holds "
                    f"{lock_path(self.path)}. Wait for it to finish, then try again",
                    details={"lock": lock_path(self.path)},
                ) from None
            self._lock_fd = fd
            _INHERITABLE.add(fd)
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, self._lock_note(), 0) if hasattr(os, "pwrite") else os.write(fd, self._lock_note())
            except OSError:
                pass  # naming the holder is a courtesy; the lock is what matters
        finally:
            if guard is not None:
                os.close(guard)  # releases it

    def _lock_note(self) -> bytes:
        return encode_line({**who(), "argv": self.argv, "since": self.services.timestamp(),
                            "started": process_started(os.getpid())}) + b"\n"

    def _lock_current(self) -> int | None:
        """The locked descriptor of the file now at the lock path, or None when another holds it."""
        for _ in range(5):
            fd = os.open(lock_path(self.path), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                locked = try_lock_exclusive(fd)
            except BaseException:
                os.close(fd)
                raise
            if not locked:
                os.close(fd)
                return None
            if _still_named(fd, lock_path(self.path)):
                return fd
            os.close(fd)  # a stale lock file was replaced meanwhile: lock the new one
        return None

    def _replace_stale_lock(self) -> int | None:
        """The lock's named holder is dead on this host, yet the lock is held (a process that
        inherited it lives on and writes nothing): put a new lock file in its place, locked and
        named before it takes the name."""
        path = lock_path(self.path)
        temp = f"{path}.{os.getpid()}.new"
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        if not try_lock_exclusive(fd):
            os.close(fd)
            return None
        os.write(fd, self._lock_note())
        os.replace(temp, path)
        self.stale_lock_replaced = True
        return fd

    def _write_genesis(self) -> None:
        self.seq = -1
        self.last_hash = None
        self.append({"kind": "genesis", "journal_id": self.services.ids.new_id(), "tool": self.services.tool.name})
        self.sync()

    def _set_aside(self, torn: TornTail) -> None:
        """Copy the torn bytes to `<journal>.torn`, trim them, and record that we did."""
        sidecar = self.path + ".torn"
        digest = hashlib.sha256(torn.data).hexdigest()
        note = {"offset": torn.offset, "length": len(torn.data), "sha256": digest,
                "bytes": bytes_to_json(torn.data), "set_aside_at": self.services.timestamp()}
        fd = os.open(sidecar, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            faults.point("write", sidecar)
            os.write(fd, encode_line(note) + b"\n")
            faults.point("fsync", sidecar)
            fsync_journal(fd)
        finally:
            os.close(fd)
        assert self._fd is not None
        faults.point("journal_write", self.path)
        os.truncate(self.path, torn.offset)
        self._size = torn.offset
        faults.point("journal_fsync", self.path)
        fsync_journal(self._fd)
        if self.seq == -1:  # the torn line was the genesis record itself
            self._write_genesis()
        self.torn_repaired = {"offset": torn.offset, "length": len(torn.data), "sha256": digest, "saved_to": sidecar}
        self.append({"kind": "torn_tail", **self.torn_repaired})
        self.sync()

    def _start(self) -> None:
        """Open the file for appending, and write what is due first: the genesis of a new journal,
        or the record of a torn last line set aside."""
        assert self._lock_fd is not None, "journal is not open"
        folder = os.path.dirname(self.path)
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            _INHERITABLE.add(self._fd)
            self._size = os.fstat(self._fd).st_size
            if self._new:
                self._new = False
                self._write_genesis()
                faults.point("fsync_dir", folder)
                fsync_dir(folder)
            elif self._torn is not None:
                torn, self._torn = self._torn, None
                self._set_aside(torn)
        except OSError as exc:
            self.failed = io_failure(exc, "opening the journal", NOTHING_CHANGED)
            raise self.failed from None
        except IOFailure as exc:  # the genesis record or the torn tail's record
            self.failed = IOFailure(exc.message.split(". ")[0] + ". " + NOTHING_CHANGED, details=exc.details)
            raise self.failed from None

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Write one whole line (the caller decides when to fsync). If the disk refuses it, what
        was written of it is cut off again and the writer refuses every later append."""
        if self.failed is not None:
            raise self.failed
        if self._fd is None:
            self._start()
        assert self._fd is not None, "journal is not open"
        if self.failed is not None:
            raise self.failed
        full = dict(record)
        full["v"] = FORMAT_VERSION
        full["seq"] = self.seq + 1
        full["ts"] = self.services.timestamp()
        full["prev"] = self.last_hash
        line = encode_line(full)
        data = line + b"\n"
        written = 0
        try:
            faults.point("journal_write", self.path)
            while written < len(data):
                written += os.write(self._fd, data[written:])
        except OSError as exc:
            if written:
                with contextlib.suppress(OSError):  # else the next writer sets it aside as a torn tail
                    os.ftruncate(self._fd, self._size)  # no partial line stays behind
            raise self._fail(exc, "appending to the journal") from None
        self._size += len(data)
        self.seq += 1
        self.last_hash = line_hash(line)
        return full

    def sync(self) -> None:
        if self._fd is None:
            return  # nothing written yet
        if self.failed is not None:
            raise self.failed
        try:
            faults.point("journal_fsync", self.path)
            fsync_journal(self._fd)
        except OSError as exc:
            raise self._fail(exc, "syncing the journal") from None

    def _fail(self, exc: OSError, doing: str) -> IOFailure:
        self.failed = io_failure(exc, doing, f"The journal {self.path} is intact up to its last whole line; "
                                 "once the disk has room (or works) again, run "
                                 f"`{self.services.tool.command('recover', apply=True)}`")
        return self.failed

    @property
    def head(self) -> dict[str, Any]:
        return {"seq": self.seq, "sha256": self.last_hash}

    def close(self) -> None:
        if self._fd is not None:
            _INHERITABLE.discard(self._fd)
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            _INHERITABLE.discard(self._lock_fd)
            try:
                unlock(self._lock_fd)
            finally:
                os.close(self._lock_fd)
            self._lock_fd = None


def _take_guard(path: str) -> int | None:
    """The guard lock for the few steps of taking the journal's lock (None when it cannot be had
    within two seconds: then the lock is taken without replacing a stale one)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    for _ in range(200):
        if try_lock_exclusive(fd):
            return fd
        time.sleep(0.01)
    os.close(fd)
    return None


def _still_named(fd: int, path: str) -> bool:
    """Whether the open file `fd` is still the one at `path` (a stale lock file may have been
    replaced between our open and our lock)."""
    if IS_WINDOWS:
        return True
    try:
        st, now = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino)


def _lock_note(journal_path: str) -> dict[str, Any] | None:
    try:
        with open(lock_path(journal_path), "rb") as handle:
            note = json_loads(handle.readline())
        return note if isinstance(note, dict) else None
    except (OSError, ValueError):
        return None


def lock_is_stale(journal_path: str) -> bool:
    """The lock file names a holder on this host that is no longer running (its pid is gone, or
    is now another process): whoever still holds the lock inherited it and writes nothing."""
    note = _lock_note(journal_path)
    if note is None or note.get("host") != socket.gethostname():
        return False
    try:
        pid = int(note["pid"])
    except (KeyError, TypeError, ValueError):
        return False
    started = note.get("started")
    return not process_alive(pid, started if isinstance(started, (int, float)) else None)


def read_lock_holder(journal_path: str) -> str:
    """' (pid N on HOST, `ARGV`, since TS)' from the lock file, or '' when it cannot be read."""
    note = _lock_note(journal_path)
    if note is None:
        return ""
    try:
        argv = " ".join(str(a) for a in note.get("argv") or [])
        if note.get("host") == socket.gethostname() and not process_alive(int(note["pid"]), None):
            return ""  # left by an earlier holder, not the one holding the lock now
        return f" (pid {note['pid']} on {note['host']}{f', `{argv}`' if argv else ''}, since {note['since']})"
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""
