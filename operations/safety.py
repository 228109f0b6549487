"""Is Codex running on this home? Its writer locks and the database lock tell us.

A held `thread-writer-locks/*.lock` (flock) means a live writer; a state database that
cannot take a write lock within a short wait means a Codex process is using it.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from journal.errors import Refused

WRITER_LOCKS = "thread-writer-locks"


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


def check_running(codex_home: Path, databases: list[Path]) -> RunningCheck:
    locks = tuple(held_writer_locks(codex_home))
    locked = tuple(str(db) for db in databases if database_is_locked(db))
    return RunningCheck(locks, locked)


def refuse_if_running(codex_home: Path, databases: list[Path]) -> RunningCheck:
    check = check_running(codex_home, databases)
    if check.running:
        raise Refused(f"Codex appears to be running: {check.describe()}. Stop Codex and try again.",
                      details={"writer_locks": list(check.held_writer_locks),
                               "locked_databases": list(check.locked_databases)})
    return check
