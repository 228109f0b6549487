"""SQLite access for effects: connections that never change the schema or journal mode."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from journal.errors import CasFailed

SQLITE_TIMEOUT_S = 5.0
# SQLite's errors, and the UnicodeDecodeError Python's sqlite3 raises in their place when the
# message itself holds bytes that are not UTF-8 (a damaged schema quoted back in the error).
SQLITE_ERRORS = (sqlite3.Error, UnicodeDecodeError)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def require_regular(db: str) -> None:
    """SQLite opens its files with a blocking open: a FIFO named like a database (or its -wal or
    -shm) would hang it forever. Such a database is refused as one SQLite cannot read."""
    for path in (db, db + "-wal", db + "-shm"):
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "not a regular file"
            raise sqlite3.OperationalError(f"{path} is {kind}, not a database file")


def connect_rw(db: str) -> sqlite3.Connection:
    """Explicit transactions only; never changes the journal mode or schema."""
    if not os.path.exists(db):
        raise CasFailed(f"database {db} does not exist")
    require_regular(db)
    conn = sqlite3.connect(db, timeout=SQLITE_TIMEOUT_S, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(SQLITE_TIMEOUT_S * 1000)}")
    return conn


def connect_ro(db: str) -> sqlite3.Connection:
    """Read-only, sees the WAL, creates nothing."""
    require_regular(db)
    uri = Path(db).absolute().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT_S)


def connect_untouched(db: str) -> sqlite3.Connection:
    """Read-only without leaving a trace: a WAL database read with `mode=ro` gets a `-shm` and an
    empty `-wal` beside it, so a database with no `-wal` (nothing in it to see) is opened
    `immutable`, which creates nothing; one with a `-wal` is read as `connect_ro` reads it."""
    require_regular(db)
    if os.path.exists(db + "-wal"):
        return connect_ro(db)
    uri = Path(db).absolute().as_uri() + "?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT_S)


def fetch_row(conn: sqlite3.Connection, table: str, key: dict[str, Any],
              columns: Sequence[str] | None = None) -> dict[str, Any] | None:
    """The row with `key` (only `columns` of it when given: a value elsewhere in the row that
    SQLite cannot decode then never stands in the way of checking the ones an effect changes)."""
    where = " AND ".join(f"{quote_ident(k)} = ?" for k in key)
    chosen = ", ".join(quote_ident(c) for c in columns) if columns else "*"
    cur = conn.execute(f"SELECT {chosen} FROM {quote_ident(table)} WHERE {where}", list(key.values()))
    rows = cur.fetchall()  # exhaust the cursor so no read transaction stays open
    if not rows:
        return None
    return {d[0]: v for d, v in zip(cur.description, rows[0], strict=True)}


def fetch_rowid(conn: sqlite3.Connection, table: str, key: dict[str, Any]) -> int | None:
    """The rowid of the row with `key`, or None (no such row, or a table WITHOUT ROWID)."""
    where = " AND ".join(f"{quote_ident(k)} = ?" for k in key)
    try:
        found = conn.execute(f"SELECT rowid FROM {quote_ident(table)} WHERE {where}", list(key.values())).fetchall()
    except sqlite3.OperationalError:
        return None
    return int(found[0][0]) if found else None


def values_match(current: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(k in current and current[k] == v for k, v in expected.items())
