"""The desktop app's thread catalog, `sqlite/codex-dev.db`: found where the app keeps it, read only.

**Reported**, not verified (the npm binary never creates it; docs/desktop-layers.md): a table
`local_thread_catalog(host_id, thread_id, display_title, source_created_at, source_updated_at,
cwd, source_kind, source_detail, model_provider, git_branch, observation_sequence,
missing_candidate, …)` and, in newer builds (`PRAGMA user_version` 34), `thread_source,
source_recency_at, pending_observed_title, project_id, conversation_origin`;
`local_thread_catalog_sync_state(host_id, watermark_updated_at, initial_build_complete,
observation_sequence, last_full_reconciled_at?)`. The app fills it from `thread/list` and keeps
it in memory; a stale one (`initial_build_complete = 0`, fewer rows than threads) hides threads
(openai/codex #30385, #34076, #35088, #37465, #30895); rows marked `missing_candidate` are
threads the app thinks are gone (#42628). It lies under the user's `~/.codex` even when
`CODEX_HOME` is elsewhere (#35817). Every column is probed before it is read; nothing is written,
not even a `-shm` beside it (`journal/sqlio.connect_untouched`).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journal.sqlio import connect_untouched, quote_ident

CATALOG_NAME = "codex-dev.db"
CATALOG_TABLE = "local_thread_catalog"
SYNC_TABLE = "local_thread_catalog_sync_state"
LOCAL_HOST = "local"  # the host id of this machine's threads (#35088, #34076)
MAX_ROWS = 500_000  # read at most this many catalog rows (ids and a few short columns)


@dataclass(frozen=True)
class CatalogRow:
    provider: str | None
    missing_candidate: bool
    project_id: str | None


@dataclass
class Catalog:
    path: str
    found_by: str
    error: str | None = None
    user_version: int | None = None
    columns: tuple[str, ...] = ()
    sync: list[dict[str, Any]] = field(default_factory=list)  # one per host: the sync state's columns
    host: str | None = None  # the host whose rows were read (`local`, else every host)
    rows: int = 0
    threads: dict[str, CatalogRow] = field(default_factory=dict)
    truncated: bool = False

    @property
    def initial_build_incomplete(self) -> bool:
        return any(s.get("initial_build_complete") == 0 for s in self.sync
                   if self.host is None or s.get("host_id") == self.host)

    def summary(self) -> dict[str, Any]:
        return {"path": self.path, "found_by": self.found_by, "error": self.error, "user_version": self.user_version,
                "columns": list(self.columns), "sync_state": self.sync, "host": self.host, "rows": self.rows,
                "missing_candidates": sum(1 for r in self.threads.values() if r.missing_candidate),
                "initial_build_incomplete": self.initial_build_incomplete, "truncated": self.truncated}


def find_catalogs(codex_home: Path, user_home: Path | None = None) -> list[tuple[Path, str]]:
    """Each catalog the app may use for this home: in the Codex home, and under `~/.codex` (where
    the app keeps it even when CODEX_HOME points elsewhere, #35817)."""
    user_home = user_home if user_home is not None else Path(os.path.expanduser("~"))
    places = [(codex_home / "sqlite" / CATALOG_NAME, "the Codex home's sqlite/ folder"),
              (user_home / ".codex" / "sqlite" / CATALOG_NAME,
               "~/.codex/sqlite/ (the app keeps it there even when CODEX_HOME points elsewhere, #35817)")]
    found: list[tuple[Path, str]] = []
    seen: set[str] = set()
    for path, how in places:
        if path.is_file() and os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            found.append((path, how))
    return found


def read_catalog(path: Path, found_by: str, max_rows: int = MAX_ROWS) -> Catalog:
    """The catalog's health, read-only; a file SQLite cannot read is an `error`, never an exception."""
    catalog = Catalog(str(path), found_by)
    try:
        conn = connect_untouched(str(path))
    except sqlite3.Error as exc:
        catalog.error = f"cannot be opened: {exc}"
        return catalog
    conn.text_factory = lambda b: b.decode("utf-8", "replace")
    try:
        _read(conn, catalog, max_rows)
    except sqlite3.Error as exc:
        catalog.error = f"cannot be read: {exc}"
    finally:
        conn.close()
    return catalog


def _columns(conn: sqlite3.Connection, table: str) -> tuple[str, ...]:
    return tuple(str(r[1]) for r in conn.execute("SELECT * FROM pragma_table_info(?)", (table,)))


def _read(conn: sqlite3.Connection, catalog: Catalog, max_rows: int) -> None:
    catalog.user_version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    catalog.columns = _columns(conn, CATALOG_TABLE)
    if not {"host_id", "thread_id"} <= set(catalog.columns):
        catalog.error = (f"no `{CATALOG_TABLE}` table with host_id and thread_id" if not catalog.columns
                         else f"`{CATALOG_TABLE}` has no host_id/thread_id columns: {list(catalog.columns)}")
        return
    sync_columns = [c for c in ("host_id", "initial_build_complete", "watermark_updated_at", "observation_sequence",
                                "last_full_reconciled_at") if c in _columns(conn, SYNC_TABLE)]
    if "host_id" in sync_columns:
        cur = conn.execute(f"SELECT {', '.join(quote_ident(c) for c in sync_columns)} FROM {quote_ident(SYNC_TABLE)}"
                           " LIMIT 100")
        catalog.sync = [dict(zip(sync_columns, r, strict=True)) for r in cur]
    hosts = {str(r[0]) for r in conn.execute(f"SELECT DISTINCT host_id FROM {quote_ident(CATALOG_TABLE)} LIMIT 100")}
    catalog.host = LOCAL_HOST if LOCAL_HOST in hosts or not hosts else None
    where, args = ("WHERE host_id = ?", [catalog.host]) if catalog.host else ("", [])
    catalog.rows = int(conn.execute(f"SELECT COUNT(*) FROM {quote_ident(CATALOG_TABLE)} {where}", args).fetchone()[0])
    wanted = [c for c in ("model_provider", "missing_candidate", "project_id") if c in catalog.columns]
    selected = ", ".join(quote_ident(c) for c in ("thread_id", *wanted))
    cur = conn.execute(f"SELECT {selected} FROM {quote_ident(CATALOG_TABLE)} {where} LIMIT ?", [*args, max_rows + 1])
    for number, values in enumerate(cur):
        if number >= max_rows:
            catalog.truncated = True
            break
        row = dict(zip(("thread_id", *wanted), values, strict=True))
        provider, project = row.get("model_provider"), row.get("project_id")
        catalog.threads[str(row["thread_id"])] = CatalogRow(
            None if provider is None else str(provider), bool(row.get("missing_candidate") or 0),
            None if project is None else str(project))
