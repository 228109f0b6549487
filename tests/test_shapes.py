"""Compatibility by shape: a migration this tool has never seen is judged by the tables it touches."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.generator import SCHEMAS, BuiltHome, HomeSpec, build_home
from operations.shapes import KNOWN_SHAPES, distill
from tests.codexhome import run, snapshot, undo


def _home(tmp_path: Path, version: str = "0.171.0") -> BuiltHome:
    return build_home(tmp_path / "home", HomeSpec(version=version, sessions=4, providers=("openai",),
                                                  current_provider="azure", defined_providers=("azure",),
                                                  archived_share=0.0, exec_share=0.0, seed=11))


def _migrate(db: Path, *sql: str, version: int = 65) -> None:
    """A synthetic newer Codex migration: its SQL, and its row in _sqlx_migrations."""
    conn = sqlite3.connect(db)
    try:
        for statement in sql:
            conn.execute(statement)
        conn.execute("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) "
                     "VALUES (?, 'synthetic', 1, x'00', 0)", (version,))
        conn.commit()
    finally:
        conn.close()


def test_known_shapes_are_distilled_from_the_captured_real_schemas() -> None:
    captured = [json.loads(p.read_text()) for p in sorted(SCHEMAS.glob("*.json"))]
    assert json.loads(KNOWN_SHAPES.read_text()) == distill(captured)
    assert distill(captured)["sources"] == ["0.128.0", "0.144.3", "0.169.0", "0.171.0"]


ALLOWED: dict[str, tuple[str, ...]] = {
    "an added index": ("CREATE INDEX idx_new ON threads(model_provider, cwd)",),
    "an unrelated table": ("CREATE TABLE thread_stickers (thread_id TEXT NOT NULL, sticker TEXT)",),
    "a trigger on an unrelated table": (
        "CREATE TABLE audit_trail (n INTEGER)",
        "CREATE TRIGGER t_audit AFTER INSERT ON audit_trail BEGIN SELECT 1; END"),
}


@pytest.mark.parametrize("change", sorted(ALLOWED))
def test_a_newer_migration_that_touches_nothing_we_use_is_allowed_with_a_warning(tmp_path: Path,
                                                                                  change: str) -> None:
    built = _home(tmp_path)
    _migrate(built.state_db, *ALLOWED[change])
    code, dry = run(built.root, "migrate-provider")
    assert code == 0 and dry["data"]["apply_refused"] == [], dry
    warning = "state_5.sqlite is at migration 65, newer than any this tool has seen (64, Codex 0.171.0)"
    assert any(warning in w for w in dry["data"]["plan"]["warnings"]), dry["data"]["plan"]["warnings"]
    before = snapshot(built.root)
    code, applied = run(built.root, "migrate-provider", "--apply")
    assert code == 0 and len(applied["data"]["plan"]["operations"]) == 4, applied
    code, undone = undo(built.root, applied["data"]["run"])
    assert code == 0 and snapshot(built.root) == before


def _retype_threads_cwd(conn: sqlite3.Connection) -> None:
    """Rebuild `threads` with `cwd` declared BLOB, as a table-rebuild migration would."""
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'threads'").fetchone()[0]
    assert "cwd TEXT NOT NULL" in sql
    conn.execute("PRAGMA legacy_alter_table = ON")
    conn.execute("ALTER TABLE threads RENAME TO threads_old")
    conn.execute(sql.replace("cwd TEXT NOT NULL", "cwd BLOB NOT NULL", 1))
    conn.execute("INSERT INTO threads SELECT * FROM threads_old")
    conn.execute("DROP TABLE threads_old")


REFUSED: dict[str, tuple[str, Callable[[sqlite3.Connection], None], str]] = {
    "an added column on threads": (
        "state_5.sqlite", lambda c: c.execute("ALTER TABLE threads ADD COLUMN mood TEXT NOT NULL DEFAULT 'ok'"),
        "table `threads` has a shape no known Codex release has (column mood added (TEXT NOT NULL DEFAULT 'ok'))"),
    "a changed type on threads": ("state_5.sqlite", _retype_threads_cwd, "column cwd changed (TEXT NOT NULL -> BLOB"),
    "a new trigger on threads": (
        "state_5.sqlite", lambda c: c.execute("CREATE TRIGGER threads_touch AFTER UPDATE ON threads "
                                              "BEGIN SELECT 1; END"),
        "table `threads` has a shape no known Codex release has (trigger added: CREATE TRIGGER threads_touch"),
    "an added column on thread_turns": (
        "thread_history_1.sqlite", lambda c: c.execute("ALTER TABLE thread_turns ADD COLUMN weight REAL"),
        "thread_history_1.sqlite: table `thread_turns` has a shape no known Codex release has "
        "(column weight added (REAL))"),
}


@pytest.mark.parametrize("change", sorted(REFUSED))
def test_an_unknown_shape_of_a_table_we_touch_is_refused_and_nothing_changes(tmp_path: Path, change: str) -> None:
    built = _home(tmp_path)
    db_name, alter, message = REFUSED[change]
    conn = sqlite3.connect(built.root / db_name)
    try:
        alter(conn)
        conn.execute("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) "
                     "VALUES (99, 'synthetic', 1, x'00', 0)")
        conn.commit()
    finally:
        conn.close()
    code, dry = run(built.root, "migrate-provider")  # the dry run says so at its top
    assert code == 0 and len(dry["data"]["apply_refused"]) == 1, dry
    assert message in dry["data"]["apply_refused"][0], dry["data"]["apply_refused"]
    before = snapshot(built.root)
    code, refused = run(built.root, "migrate-provider", "--apply")
    assert code == 3 and refused["errors"][0]["code"] == "unknown_shape", refused
    assert message in refused["errors"][0]["message"]  # it names the table and the difference
    assert snapshot(built.root) == before
    journal = built.root / "codex-sessions" / "journal.jsonl"
    assert not journal.exists() or b'"intent"' not in journal.read_bytes()


@pytest.mark.skipif(sys.platform == "win32", reason="holds a writer lock with flock, as Codex does on Linux and macOS")
def test_the_dry_run_names_a_running_codex_too(tmp_path: Path) -> None:
    built = _home(tmp_path, "0.169.0")
    lock = built.root / "thread-writer-locks" / f"{next(iter(built.sessions))}.lock"
    lock.parent.mkdir()
    lock.touch()
    import fcntl
    import os
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # an open file description of its own: our probe cannot take it
        code, dry = run(built.root, "migrate-provider")
    finally:
        os.close(fd)
    assert code == 0 and any("Codex appears to be running" in r for r in dry["data"]["apply_refused"]), dry


def test_undo_is_refused_too_once_a_table_it_would_write_has_an_unknown_shape(tmp_path: Path) -> None:
    built = _home(tmp_path)
    code, applied = run(built.root, "migrate-provider", "--apply")
    assert code == 0, applied
    _migrate(built.state_db, "ALTER TABLE threads ADD COLUMN mood TEXT")
    before = snapshot(built.root)
    code, refused = undo(built.root, applied["data"]["run"])
    assert code == 3 and refused["errors"][0]["code"] == "unknown_shape", refused
    assert "column mood added" in refused["errors"][0]["message"]
    assert snapshot(built.root) == before
