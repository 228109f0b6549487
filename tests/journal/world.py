"""Generic targets for the journal's tests: a folder of real files and one real SQLite database,
with a journal beside them, and deterministic services (clock, ids). Imports nothing of the
application: the engine's own tests run where `operations` cannot be imported."""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import journal
from journal import (
    FileEdit,
    FileMove,
    IdSource,
    PlannedOp,
    Roots,
    RowDelete,
    RowInsert,
    RowUpdate,
    RunResult,
    Services,
    ToolInfo,
    plan_file_edit,
)

ENGINE_TOOL = ToolInfo("journal-test", "test")


class TickingClock:
    """Deterministic time: starts at a fixed moment and advances 1 ms per reading."""

    ticks = itertools.count()

    def __init__(self, start: datetime | None = None) -> None:
        self.start = start or datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.start + timedelta(milliseconds=next(self.ticks))


_seeds = itertools.count(1)


def fixed_services(seed: int | None = None, clock: TickingClock | None = None,
                   tool: ToolInfo = ENGINE_TOOL) -> Services:
    """A ticking clock from a fixed moment and seeded ids: runs are the same every time."""
    clock = clock or TickingClock()
    rng = random.Random(next(_seeds) if seed is None else seed)
    return Services(clock, IdSource(clock, lambda n: bytes(rng.getrandbits(8) for _ in range(n))), tool)


@dataclass
class World:
    """A folder of files and one SQLite database (table `items`), plus a journal beside them."""

    root: Path
    db: Path
    journal: Path
    tool: ToolInfo = field(default=ENGINE_TOOL)

    def file(self, rel: str, content: bytes, mtime_ns: int = 1_700_000_000_000_000_000) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, ns=(mtime_ns, mtime_ns))
        return path

    def move(self, src: Path, dst: Path, touch_ns: int | None = None) -> FileMove:
        return journal.plan_file_move(src, dst, after_mtime_ns=touch_ns)

    def rewrite(self, path: Path, line: int, after: bytes) -> FileEdit:
        return plan_file_edit(str(path), {line: after}, path.read_bytes())

    def rewrites(self, path: Path, new_lines: dict[int, bytes]) -> tuple[FileEdit, ...]:
        return (plan_file_edit(str(path), new_lines, path.read_bytes()),)

    def row(self, key: str) -> dict[str, Any] | None:
        conn = sqlite3.connect(self.db)
        try:
            cur = conn.execute("SELECT * FROM items WHERE id = ?", (key,))
            row = cur.fetchone()
            return None if row is None else {d[0]: v for d, v in zip(cur.description, row, strict=True)}
        finally:
            conn.close()

    def set_row(self, key: str, **values: Any) -> None:
        """Change a row behind the journal's back (another program did)."""
        conn = sqlite3.connect(self.db)
        try:
            for column, value in values.items():
                conn.execute(f"UPDATE items SET {column} = ? WHERE id = ?", (value, key))
            conn.commit()
        finally:
            conn.close()

    def update(self, key: str, **after: Any) -> RowUpdate:
        current = self.row(key)
        assert current is not None
        return RowUpdate(str(self.db), "items", {"id": key}, {k: current[k] for k in after}, after)

    def insert(self, key: str, **values: Any) -> RowInsert:
        return RowInsert(str(self.db), "items", {"id": key}, {"id": key, **values})

    def delete(self, key: str) -> RowDelete:
        current = self.row(key)
        assert current is not None
        return RowDelete(str(self.db), "items", {"id": key}, current)

    def services(self, seed: int | None = None) -> Services:
        return fixed_services(seed, tool=self.tool)

    def execute(self, ops: list[PlannedOp], services: Services | None = None, **kw: Any) -> RunResult:
        """One run of `ops` through the journal's front door; writes allowed in this world's root
        (or in `roots=`)."""
        roots = kw.pop("roots", [self.root])
        with journal.open_writer(self.journal, services or self.services()) as writer:
            return journal.run(writer, "test", ops, roots=roots, **kw)

    @property
    def roots(self) -> Roots:
        return Roots((str(self.root),))

    def snapshot(self) -> dict[str, Any]:
        """Every file (sha256, mtime) and every row: what 'byte for byte' means here."""
        files = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and "journal" not in path.name and path.suffix not in (".sqlite", ".lock") \
                    and not path.name.endswith(("-wal", "-shm", "-journal")):
                files[str(path.relative_to(self.root))] = (sha(path.read_bytes()), path.stat().st_mtime_ns)
        conn = sqlite3.connect(self.db)
        try:
            rows = conn.execute("SELECT * FROM items ORDER BY id").fetchall()
        finally:
            conn.close()
        return {"files": files, "rows": rows}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_world(tmp_path: Path, tool: ToolInfo = ENGINE_TOOL, journal_folder: str = "journal") -> World:
    root = tmp_path / "home"
    root.mkdir(parents=True, exist_ok=True)
    db = root / "state.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT NOT NULL, n INTEGER, data BLOB)")
    conn.executemany("INSERT INTO items VALUES (?, ?, ?, ?)",
                     [("a", "alpha", 1, b"\x00\x01"), ("b", "beta", 2, None), ("c", "gamma", 3, None)])
    conn.commit()
    conn.close()
    return World(root, db, root / journal_folder / "journal.jsonl", tool)
