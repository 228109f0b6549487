"""SQLite access for effects: connections that never change the schema or journal mode."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from journal.errors import CasFailed

SQLITE_TIMEOUT_S = 5.0


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def connect_rw(db: str) -> sqlite3.Connection:
    """Explicit transactions only; never changes the journal mode or schema."""
    if not os.path.exists(db):
        raise CasFailed(f"database {db} does not exist")
    conn = sqlite3.connect(db, timeout=SQLITE_TIMEOUT_S, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(SQLITE_TIMEOUT_S * 1000)}")
    return conn


def connect_ro(db: str) -> sqlite3.Connection:
    """Read-only, sees the WAL, creates nothing."""
    uri = Path(db).absolute().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT_S)


def connect_untouched(db: str) -> sqlite3.Connection:
    """Read-only without leaving a trace: a WAL database read with `mode=ro` gets a `-shm` and an
    empty `-wal` beside it, so a database with no `-wal` (nothing in it to see) is opened
    `immutable`, which creates nothing; one with a `-wal` is read as `connect_ro` reads it."""
    if os.path.exists(db + "-wal"):
        return connect_ro(db)
    uri = Path(db).absolute().as_uri() + "?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT_S)


def fetch_row(conn: sqlite3.Connection, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    where = " AND ".join(f"{quote_ident(k)} = ?" for k in key)
    cur = conn.execute(f"SELECT * FROM {quote_ident(table)} WHERE {where}", list(key.values()))
    rows = cur.fetchall()  # exhaust the cursor so no read transaction stays open
    if not rows:
        return None
    return {d[0]: v for d, v in zip(cur.description, rows[0], strict=True)}


def values_match(current: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(k in current and current[k] == v for k, v in expected.items())
