"""Is Codex running on this home? Its writer locks and the database lock tell us.

A held `thread-writer-locks/*.lock` (flock) means a live writer; a state database that
cannot take a write lock within a short wait means a Codex process is using it.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import struct
from dataclasses import dataclass
from pathlib import Path

from journal.errors import Refused
from journal.targets import connect_ro

WRITER_LOCKS = "thread-writer-locks"
WAL_DMS_BYTE = 128
FLOCK_FORMAT = "hhqqi4x"  # struct flock on Linux: l_type, l_whence, l_start, l_len, l_pid


@dataclass(frozen=True)
class RunningCheck:
    held_writer_locks: tuple[str, ...]
    locked_databases: tuple[str, ...]

    @property
    def running(self) -> bool:
        return bool(self.held_writer_locks or self.locked_databases)

    def describe(self) -> str:
        parts = []
        if self.held_writer_locks:
            parts.append(f"live session writer lock(s) held: {', '.join(self.held_writer_locks[:5])}")
        if self.locked_databases:
            parts.append(f"database(s) locked by another process: {', '.join(self.locked_databases)}")
        return "; ".join(parts) or "no sign of a running Codex"


def held_writer_locks(codex_home: Path) -> list[str]:
    """Thread ids whose writer lock some process holds right now."""
    folder = codex_home / WRITER_LOCKS
    if not folder.is_dir():
        return []
    held = []
    for entry in sorted(folder.iterdir()):
        if not entry.name.endswith(".lock") or entry.name.startswith("."):
            continue
        if lock_is_held(entry):
            held.append(entry.name[: -len(".lock")])
    return held


def lock_is_held(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def database_is_locked(db: Path, timeout_s: float = 0.5) -> bool:
    """True when BEGIN IMMEDIATE cannot get the write lock (another writer holds it)."""
    if not db.exists():
        return False
    conn = sqlite3.connect(db, timeout=timeout_s, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc) or "busy" in str(exc)
    finally:
        conn.close()


def database_user_pid(db: Path) -> int | None:
    """The pid of another process that has this WAL database open, read-only to find out.

    Every open SQLite connection in WAL mode holds a shared lock on the DMS byte (128) of
    the `-shm` file; F_GETLK reports such a lock without taking or writing anything. An
    idle `codex app-server` is seen this way, while BEGIN IMMEDIATE would still succeed.
    """
    shm = Path(str(db) + "-shm")
    if not shm.exists():
        return None
    try:
        fd = os.open(shm, os.O_RDONLY)
    except OSError:
        return None
    try:
        request = struct.pack(FLOCK_FORMAT, fcntl.F_WRLCK, os.SEEK_SET, WAL_DMS_BYTE, 1, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, request)
        lock_type, _whence, _start, _len, pid = struct.unpack(FLOCK_FORMAT, answer)
        return None if lock_type == fcntl.F_UNLCK else int(pid)
    except OSError:
        return None
    finally:
        os.close(fd)


def check_running(codex_home: Path, databases: list[Path], *, try_write_lock: bool = True) -> RunningCheck:
    """Writer locks, databases open in another process, and (when allowed) a write-lock test."""
    locks = tuple(held_writer_locks(codex_home))
    locked: list[str] = []
    for db in databases:
        pid = database_user_pid(db)
        if pid is not None:
            locked.append(f"{db} (open in pid {pid})")
        elif try_write_lock and database_is_locked(db):
            locked.append(str(db))
    return RunningCheck(locks, tuple(locked))


def refuse_if_running(codex_home: Path, databases: list[Path]) -> RunningCheck:
    check = check_running(codex_home, databases)
    if check.running:
        raise Refused(f"Codex appears to be running: {check.describe()}. Stop Codex and try again.",
                      details={"writer_locks": list(check.held_writer_locks),
                               "locked_databases": list(check.locked_databases)})
    return check


def refuse_if_damaged(databases: list[Path]) -> None:
    """PRAGMA quick_check on each database (read-only); never write to a damaged one."""
    for db in databases:
        if not db.exists():
            continue
        try:
            conn = connect_ro(str(db))
            try:
                rows = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            rows = [str(exc)]
        if rows != ["ok"]:
            raise Refused(f"{db} is damaged (quick_check: {'; '.join(rows)}); nothing was changed. "
                          "Let Codex recover it (it moves a damaged database to db-backups/ and rebuilds it)",
                          details={"quick_check": rows})


def refuse_unless_safe(codex_home: Path, databases: list[Path]) -> None:
    """The checks before any write: Codex is not running, and no database is damaged."""
    refuse_if_running(codex_home, databases)
    refuse_if_damaged(databases)
