"""Compatibility by shape: may this tool write to a database whose migration it has never seen?

Codex ships every few days and most migrations add tables or indexes this tool never
touches. So writes are judged by the shape of the tables the tool reads to plan a write or
writes (columns: name, declared type, not-null, default, primary key; and the triggers on
the table), compared with the shapes captured from real Codex binaries
(`fixtures/schemas/`, distilled into `known_shapes.json` by `fixtures/capture_schema.py`).
A newer migration number with known shapes is a warning; an unknown shape is a refusal.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

KNOWN_SHAPES = Path(__file__).with_name("known_shapes.json")

# database file name -> the tables this tool reads to plan a write, or writes
TOUCHED_TABLES: dict[str, tuple[str, ...]] = {
    "state_5.sqlite": ("threads", "backfill_state", "project_roots", "projects", "project_idempotency_keys"),
    "thread_history_1.sqlite": ("thread_turns", "thread_history_projection_state"),
}

Column = tuple[str, str, int, str | None, int]  # name, declared type, not null, default, pk position


@dataclass(frozen=True)
class TableShape:
    columns: tuple[Column, ...]  # sorted by name: this tool names every column it uses
    triggers: tuple[str, ...]  # the CREATE TRIGGER text, whitespace folded

    def to_json(self) -> dict[str, Any]:
        return {"columns": [list(c) for c in self.columns], "triggers": list(self.triggers)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableShape:
        return cls(tuple((c[0], c[1], c[2], c[3], c[4]) for c in data["columns"]), tuple(data["triggers"]))


@dataclass(frozen=True)
class ShapeVerdict:
    """What the shapes say about writing to one database."""

    db: str
    max_migration: int | None
    newest_known_migration: int | None
    problems: tuple[str, ...]  # each a refusal: a touched table whose shape no Codex release had
    warnings: tuple[str, ...]  # e.g. a newer migration whose touched tables are all known


def judge_all(dbs: Iterable[Path]) -> list[ShapeVerdict]:
    """The verdict of each of these databases that this tool writes and that exists, read-only
    (a database SQLite cannot read raises sqlite3.DatabaseError)."""
    from journal.sqlio import connect_ro

    verdicts: list[ShapeVerdict] = []
    for db in dbs:
        if db.name not in TOUCHED_TABLES or not db.exists():
            continue
        conn = connect_ro(str(db))
        try:
            verdicts.append(judge(db, conn))
        finally:
            conn.close()
    return verdicts


def _fold(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def read_shape(conn: sqlite3.Connection, table: str) -> TableShape | None:
    """The shape of `table`, or None when it does not exist."""
    columns = tuple(sorted((str(r[1]), str(r[2]).upper(), int(r[3]), r[4], int(r[5]))
                           for r in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))))
    if not columns:
        return None
    triggers = tuple(sorted(_fold(r[0]) for r in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND sql IS NOT NULL", (table,))))
    return TableShape(columns, triggers)


def max_migration(conn: sqlite3.Connection) -> int | None:
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'").fetchone():
        value = conn.execute("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1").fetchone()[0]
        return None if value is None else int(value)
    return None


@cache
def known_shapes() -> dict[str, Any]:
    """{"sources": [versions], "databases": {db: {"max_migration": n, "tables": {t: [shape…]}}}}."""
    data: dict[str, Any] = json.loads(KNOWN_SHAPES.read_text(encoding="utf-8"))
    return data


def distill(captures: list[dict[str, Any]]) -> dict[str, Any]:
    """known_shapes.json from captured schemas (fixtures/schemas/*.json): each touched table's
    shapes, as SQLite reports them once the captured SQL has run, and the newest migration."""
    databases: dict[str, Any] = {}
    for capture in sorted(captures, key=lambda c: tuple(int(p) for p in c["codex_version"].split("."))):
        for db, dump in capture["databases"].items():
            if db not in TOUCHED_TABLES:
                continue
            conn = sqlite3.connect(":memory:")
            try:
                for obj in dump["objects"]:
                    if not obj["name"].startswith("sqlite_"):
                        conn.execute(obj["sql"])
                entry = databases.setdefault(db, {"max_migration": None, "tables": {}})
                versions = [m["version"] for m in dump["migrations"] if m["success"]]
                entry["max_migration"] = max([*versions, entry["max_migration"] or 0]) or None
                for table in TOUCHED_TABLES[db]:
                    shape = read_shape(conn, table)
                    if shape is None:
                        continue
                    shapes = entry["tables"].setdefault(table, [])
                    as_json = shape.to_json()
                    match = next((s for s in shapes if s["shape"] == as_json), None)
                    if match is None:
                        shapes.append({"shape": as_json, "codex": [capture["codex_version"]]})
                    else:
                        match["codex"].append(capture["codex_version"])
            finally:
                conn.close()
    return {"sources": sorted((c["codex_version"] for c in captures),
                              key=lambda v: tuple(int(p) for p in v.split("."))), "databases": databases}


def _difference(actual: TableShape, nearest: TableShape) -> str:
    """What differs, in words: added, removed or changed columns and triggers."""
    have = {c[0]: c for c in actual.columns}
    want = {c[0]: c for c in nearest.columns}
    parts = [f"column {n} added ({_column_text(have[n])})" for n in sorted(set(have) - set(want))]
    parts += [f"column {n} removed" for n in sorted(set(want) - set(have))]
    parts += [f"column {n} changed ({_column_text(want[n])} -> {_column_text(have[n])})"
              for n in sorted(set(have) & set(want)) if have[n] != want[n]]
    parts += [f"trigger added: {t[:120]}" for t in actual.triggers if t not in nearest.triggers]
    parts += [f"trigger removed: {t[:120]}" for t in nearest.triggers if t not in actual.triggers]
    return "; ".join(parts)


def _column_text(column: Column) -> str:
    name, kind, notnull, default, pk = column
    text = kind or "untyped"
    text += " NOT NULL" if notnull else ""
    text += f" DEFAULT {default}" if default is not None else ""
    return text + (" PRIMARY KEY" if pk else "")


def judge(path: Path, conn: sqlite3.Connection, known: dict[str, Any] | None = None) -> ShapeVerdict:
    """The verdict for one database, read through `conn` (read-only is enough)."""
    known = known if known is not None else known_shapes()
    entry = known["databases"].get(path.name)
    level = max_migration(conn)
    if entry is None:
        return ShapeVerdict(str(path), level, None, (f"{path.name} is not a database this tool writes",), ())
    problems: list[str] = []
    for table in TOUCHED_TABLES[path.name]:
        actual = read_shape(conn, table)
        shapes = [TableShape.from_json(s["shape"]) for s in entry["tables"].get(table, [])]
        if actual is None or actual in shapes:
            continue  # a missing table is judged where it would be used
        if not shapes:
            problems.append(f"{path.name}: table `{table}` is in no Codex release this tool knows")
            continue
        nearest = min(shapes, key=lambda s: len(_difference(actual, s)))
        problems.append(f"{path.name}: table `{table}` has a shape no known Codex release has "
                        f"({_difference(actual, nearest)})")
    warnings: list[str] = []
    newest = entry["max_migration"]
    if level is not None and newest is not None and level > newest:
        sources = known["sources"]
        verdict = "refused" if problems else "allowed: every table it touches has a known shape"
        warnings.append(f"{path.name} is at migration {level}, newer than any this tool has seen ({newest}, "
                        f"Codex {sources[-1]}); writes are {verdict}")
    return ShapeVerdict(str(path), level, newest, tuple(problems), tuple(warnings))
