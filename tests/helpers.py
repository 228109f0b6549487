"""Generic targets for journal tests: temporary files and a temporary SQLite database."""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import random
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import typer.testing
from typer.testing import CliRunner

from journal.clock import IdSource, Services, ToolInfo
from journal.effects import FileEdit, FileMove, RowDelete, RowInsert, RowUpdate, plan_file_edit
from journal.fileio import file_digest
from journal.runner import PlannedOp, RunResult, execute_run
from journal.store import JournalWriter
from operations.cli.app import app

# Typer turns the app into its click command at every invoke (about 0.1 s, more than most commands
# here take; the fuzz tests make thousands of calls): the runner's lookup is memoized once, here.
typer.testing._get_command = functools.cache(typer.testing._get_command)  # type: ignore[attr-defined]
runner = CliRunner()
# Build the click command once, not at every invoke (typer rebuilds it from the functions' signatures
# each time, a tenth of a second the suite spent thousands of times).
_build_command = typer.testing._get_command  # noqa: SLF001
typer.testing._get_command = functools.cache(_build_command)  # type: ignore[attr-defined]  # noqa: SLF001


class TickingClock:
    """Deterministic time: starts at a fixed moment and advances 1 ms per reading."""

    ticks = itertools.count()

    def __init__(self, start: datetime | None = None) -> None:
        self.start = start or datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.start + timedelta(milliseconds=next(self.ticks))


_seeds = itertools.count(1)


def real_time_clock() -> TickingClock:
    """For homes the real Codex writes: its files bear today's time, so the tool's clock must too
    (a frozen date falls behind them as the calendar moves on)."""
    return TickingClock(datetime.now(UTC))


def fixed_services(seed: int | None = None, clock: TickingClock | None = None) -> Services:
    clock = clock or TickingClock()
    rng = random.Random(next(_seeds) if seed is None else seed)
    return Services(clock, IdSource(clock, lambda n: bytes(rng.getrandbits(8) for _ in range(n))),
                    ToolInfo("codex-sessions", "test"))


def real_time_services(seed: int | None = None) -> Services:
    return fixed_services(seed, real_time_clock())


def cli(*args: str) -> Any:
    return _invoke(list(args))


def cli_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = _invoke([*args, "--json"])
    return result.exit_code, orjson.loads(result.stdout)


def _invoke(args: list[str]) -> Any:
    """As the shell would run it: sys.argv too (runs record it, and messages repeat it)."""
    saved = sys.argv
    sys.argv = ["codex-sessions", *args]
    try:
        return runner.invoke(app, args)
    finally:
        sys.argv = saved


@dataclass
class World:
    """A folder of files and one SQLite database, plus a journal beside them."""

    root: Path
    db: Path
    journal: Path

    def file(self, rel: str, content: bytes, mtime_ns: int = 1_700_000_000_000_000_000) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, ns=(mtime_ns, mtime_ns))
        return path

    def move(self, src: Path, dst: Path, touch_ns: int | None = None) -> FileMove:
        sha, size = file_digest(src)
        return FileMove(str(src), str(dst), sha, size, src.stat().st_mtime_ns, touch_ns)

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

    def execute(self, ops: list[PlannedOp], services: Services | None = None, **kw: Any) -> RunResult:
        with JournalWriter(str(self.journal), services or fixed_services()) as writer:
            return execute_run(writer, "test", ops, **kw)

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


def make_world(tmp_path: Path) -> World:
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
    return World(root, db, root / "codex-sessions" / "journal.jsonl")
