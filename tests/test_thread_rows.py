"""The rows reader's fast path (SQLite decodes, the SQL flags odd types) equals its checking path."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fixtures.generator import VERSIONS, HomeSpec, build_home
from journal.sqlio import connect_ro
from operations.schema import inspect_state_db
from operations.threads import WANTED, ThreadRow, _read_rows, load_rows


def _both(db: Path) -> tuple[list[ThreadRow], list[ThreadRow]]:
    schema = inspect_state_db(db)
    columns = [c for c in WANTED if schema.has(c)]
    conn = connect_ro(str(db))
    try:
        return _read_rows(conn, columns, fast=True), _read_rows(conn, columns, fast=False)
    finally:
        conn.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_fast_and_checking_paths_read_the_same_rows(tmp_path: Path, version: str) -> None:
    built = build_home(tmp_path / "home", HomeSpec(version=version, sessions=8, seed=3))
    ids = sorted(built.sessions)
    conn = sqlite3.connect(built.state_db)
    conn.execute("UPDATE threads SET cwd = CAST(? AS BLOB) WHERE id = ?", (b"/home/u/blob", ids[0]))
    conn.execute("UPDATE threads SET archived = 1.5 WHERE id = ?", (ids[1],))
    conn.execute("UPDATE threads SET created_at = 'then', source = 7 WHERE id = ?", (ids[2],))
    conn.commit()
    conn.close()
    fast, checked = _both(built.state_db)
    assert fast == checked and len(fast) == 8
    odd = {r.id: r for r in fast if r.malformed}
    assert set(odd) == {ids[1], ids[2]}  # a BLOB that is valid UTF-8 reads as text, as it always did
    assert next(r for r in fast if r.id == ids[0]).cwd == "/home/u/blob"
    assert odd[ids[1]].archived == 0 and odd[ids[2]].created_at is None and odd[ids[2]].source == "7"


def test_a_value_that_is_not_utf8_falls_back_and_names_its_column(tmp_path: Path) -> None:
    built = build_home(tmp_path / "home", HomeSpec(version="0.171.0", sessions=5, seed=3))
    bad = sorted(built.sessions)[2]
    conn = sqlite3.connect(built.state_db)
    conn.execute("UPDATE threads SET title = CAST(? AS TEXT) WHERE id = ?", (b"caf\xe9", bad))
    conn.commit()
    conn.close()
    rows = load_rows(built.state_db, inspect_state_db(built.state_db))
    assert [(r.id, r.undecodable) for r in rows if r.undecodable] == [(bad, ("title",))]
    assert len(rows) == 5
