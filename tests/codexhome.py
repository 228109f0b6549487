"""Helpers for tests on generated Codex homes: snapshots and CLI calls."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

from tests.helpers import cli_json

TABLES = {"state_5.sqlite": ("threads", "backfill_state"),
          "thread_history_1.sqlite": ("thread_turns", "thread_history_projection_state")}


def snapshot(home: Path) -> dict[str, Any]:
    """Every rollout byte (sha256) with its mtime, and every row of the tables we may touch."""
    files = {}
    for folder in ("sessions", "archived_sessions"):
        for path in sorted((home / folder).rglob("*")) if (home / folder).exists() else []:
            if path.is_file():
                files[str(path.relative_to(home))] = (hashlib.sha256(path.read_bytes()).hexdigest(),
                                                      path.stat().st_mtime_ns)
    rows: dict[str, list[Any]] = {}
    for db, tables in TABLES.items():
        if not (home / db).exists():
            continue
        conn = sqlite3.connect(home / db)
        try:
            for table in tables:
                rows[f"{db}:{table}"] = sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
        finally:
            conn.close()
    return {"files": files, "rows": rows}


def run(home: Path, *args: str) -> tuple[int, dict[str, Any]]:
    return cli_json("run", *args, "--codex-home", str(home))


def audit(home: Path) -> dict[str, Any]:
    code, data = cli_json("audit", "--codex-home", str(home))
    assert code == 0, data
    return data["data"]


def undo(home: Path, run_id: str, *extra: str) -> tuple[int, dict[str, Any]]:
    return cli_json("undo", run_id, "--apply", "--codex-home", str(home), *extra)


def row(home: Path, thread_id: str) -> dict[str, Any] | None:
    conn = sqlite3.connect(home / "state_5.sqlite")
    try:
        cur = conn.execute("SELECT * FROM threads WHERE id = ?", (thread_id,))
        values = cur.fetchone()
        return None if values is None else dict(zip([d[0] for d in cur.description], values, strict=True))
    finally:
        conn.close()
