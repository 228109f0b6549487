"""The writable journal: one writer at a time, appends that are whole lines, and fsync.

Opening for write verifies the whole chain, sets a torn last line aside, and refuses a
corrupt journal or one with operations left pending by a crash.
"""

from __future__ import annotations

import hashlib
import os
from types import TracebackType
from typing import Any

from orjson import loads as json_loads

from journal import FORMAT_VERSION
from journal.clock import Services
from journal.codec import bytes_to_json, encode_line, line_hash
from journal.errors import JournalCorrupt, LockHeld, PendingRecovery
from journal.platform import fsync_dir, fsync_journal, try_lock_exclusive, unlock
from journal.records import who
from journal.scan import ScanResult, TornTail, scan


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
        self._new = False  # a genesis record is due before the first record
        self._torn: TornTail | None = None  # a torn last line to set aside before the first record

    def __enter__(self) -> JournalWriter:
        self.open()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def open(self) -> None:
        folder = os.path.dirname(self.path)
        if not os.path.isdir(folder):
            os.makedirs(folder, mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)
        self._take_lock()
        try:
            result = scan(self.path)
            self.scan_result = result
            if result.problems:
                first = result.problems[0]
                raise JournalCorrupt(
                    f"journal {self.path} is damaged at line {first.line} (offset {first.offset}): "
                    f"{first.message}; writes are refused. `verify` shows the damage. The journal is never "
                    "repaired in place: to go on, move it aside (it stays readable with --journal for log and show) "
                    "and the next write starts a new one",
                    details={"problems": [p.__dict__ for p in result.problems[:20]]},
                )
            # Nothing is written until the first record is: a run refused after taking the lock
            # (an unknown id, Codex running) leaves the journal exactly as it found it.
            self._new = not result.exists or (result.lines == 0 and result.torn is None)
            if not self._new:
                self.seq = result.last_seq
                self.last_hash = result.last_hash
                self._torn = result.torn
            if result.pending and not self.allow_pending:
                ids = ", ".join(sorted(result.pending)[:5])
                raise PendingRecovery(
                    f"{len(result.pending)} operation(s) were left pending by an interrupted run ({ids}); "
                    f"run `{self.services.tool.name} recover` first",
                    details={"pending": sorted(result.pending)},
                )
        except BaseException:
            self.close()
            raise

    def _take_lock(self) -> None:
        """Lock, then write who holds it into the lock file, so a refused writer can name us."""
        fd = os.open(lock_path(self.path), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            locked = try_lock_exclusive(fd)
        except BaseException:
            os.close(fd)
            raise
        if not locked:
            os.close(fd)
            holder = read_lock_holder(self.path)
            raise LockHeld(
                f"another {self.services.tool.name} run is writing this journal{holder}: it holds "
                f"{lock_path(self.path)}. Wait for it to finish, then try again",
                details={"lock": lock_path(self.path)},
            ) from None
        self._lock_fd = fd
        note = encode_line({**who(), "argv": self.argv, "since": self.services.timestamp()}) + b"\n"
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, note, 0) if hasattr(os, "pwrite") else os.write(fd, note)
        except OSError:
            pass  # naming the holder is a courtesy; the lock is what matters

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
            os.write(fd, encode_line(note) + b"\n")
            fsync_journal(fd)
        finally:
            os.close(fd)
        assert self._fd is not None
        os.truncate(self.path, torn.offset)
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
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if self._new:
            self._new = False
            self._write_genesis()
            fsync_dir(os.path.dirname(self.path))
        elif self._torn is not None:
            torn, self._torn = self._torn, None
            self._set_aside(torn)

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Write one whole line in one write(); the caller decides when to fsync."""
        if self._fd is None:
            self._start()
        assert self._fd is not None, "journal is not open"
        full = dict(record)
        full["v"] = FORMAT_VERSION
        full["seq"] = self.seq + 1
        full["ts"] = self.services.timestamp()
        full["prev"] = self.last_hash
        line = encode_line(full)
        os.write(self._fd, line + b"\n")
        self.seq += 1
        self.last_hash = line_hash(line)
        return full

    def sync(self) -> None:
        if self._fd is None:
            return  # nothing written yet
        fsync_journal(self._fd)

    @property
    def head(self) -> dict[str, Any]:
        return {"seq": self.seq, "sha256": self.last_hash}

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            unlock(self._lock_fd)
            os.close(self._lock_fd)
            self._lock_fd = None


def read_lock_holder(journal_path: str) -> str:
    """' (pid N on HOST, `ARGV`, since TS)' from the lock file, or '' when it cannot be read."""
    try:
        with open(lock_path(journal_path), "rb") as handle:
            note = json_loads(handle.readline())
        argv = " ".join(str(a) for a in note.get("argv") or [])
        import psutil

        if not psutil.pid_exists(int(note["pid"])):
            return ""  # left by an earlier holder, not the one holding the lock now
        return f" (pid {note['pid']} on {note['host']}{f', `{argv}`' if argv else ''}, since {note['since']})"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ""
