"""Row effects: `row_update`, `row_insert`, `row_delete`, and `rows_update` (one column set of
many rows of one table, written compactly). All of an operation's row effects on one database
apply in one IMMEDIATE transaction."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from journal import faults
from journal.codec import sql_from_json, sql_to_json
from journal.durability import IOContext
from journal.effects.base import Effect, Probe, StepHook, register, row_target, short
from journal.errors import CasFailed
from journal.sqlio import SQLITE_ERRORS, connect_ro, connect_rw, fetch_row, fetch_rowid, quote_ident, values_match


def _row_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: sql_to_json(v) for k, v in row.items()}


def _row_from(row: dict[str, Any]) -> dict[str, Any]:
    return {k: sql_from_json(v) for k, v in row.items()}


def _key_text(key: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(key.items()))


class SqlEffect(Effect):
    """An effect on rows of one table of one SQLite database."""

    db: str
    table: str

    def paths(self) -> tuple[str, ...]:
        return (self.db,)

    def summary_name(self) -> str:
        return f"{self.kind} {self.table}"

    def step_key(self) -> tuple[str, str] | None:
        return ("sql", os.path.abspath(self.db))

    def probe(self, io: IOContext | None = None) -> Probe:
        conn: sqlite3.Connection | None = None
        try:
            conn = io.conn(self.db) if io is not None else connect_ro(self.db)
            return self.probe_in(conn)
        except SQLITE_ERRORS as exc:
            return Probe("other", f"cannot read {self.db}: {exc}", blocking=True)
        finally:
            if io is None and conn is not None:
                conn.close()

    def probe_in(self, conn: sqlite3.Connection) -> Probe:
        raise NotImplementedError

    def apply_in(self, conn: sqlite3.Connection) -> None:
        """Check the before values and write, inside the caller's transaction."""
        raise NotImplementedError

    @classmethod
    def apply_step(cls, effects: Sequence[Effect], io: IOContext | None, hook: StepHook | None) -> None:
        sql = [e for e in effects if isinstance(e, SqlEffect)]
        batch = io.transaction(sql[0].db) if io is not None else None
        if batch is not None:  # inside the batch's transaction: this step is a savepoint of it
            _all_or_none(batch, sql, "SAVEPOINT step", "RELEASE step", ("ROLLBACK TO step", "RELEASE step"))
            return
        conn = io.conn(sql[0].db) if io is not None else connect_rw(sql[0].db)
        try:
            _all_or_none(conn, sql, "BEGIN IMMEDIATE", "COMMIT", ("ROLLBACK",), commits=True)
        finally:
            if io is None:
                conn.close()

    def _refuse_unless_before(self, seen: Probe) -> None:
        if seen.state != "before":
            raise CasFailed(f"{self.describe()}: {seen.detail or 'already ' + seen.state}")


def _all_or_none(conn: sqlite3.Connection, effects: Sequence[SqlEffect], begin: str, end: str,
                 undo: tuple[str, ...], *, commits: bool = False) -> None:
    conn.execute(begin)
    try:
        faults.point("sql", effects[0].db)
        for effect in effects:
            effect.apply_in(conn)
        if commits:
            faults.point("commit", effects[0].db)
        conn.execute(end)
    except BaseException:
        if conn.in_transaction:  # a full disk may have ended the transaction already
            try:
                for statement in undo:
                    conn.execute(statement)
            except sqlite3.Error:
                if not commits:
                    raise  # the batch's transaction is in an unknown state: the batch fails
        raise


def _where(key: dict[str, Any]) -> str:
    return " AND ".join(f"{quote_ident(k)} = ?" for k in key)


def _swap(conn: sqlite3.Connection, table: str, key: dict[str, Any], before: dict[str, Any],
          after: dict[str, Any]) -> bool:
    """Compare-and-swap in one statement: set `after` where the row has `key` and holds `before`
    (`IS`: NULL-safe). False when no row did (the caller probes to say why)."""
    sets = ", ".join(f"{quote_ident(k)} = ?" for k in after)
    held = " AND ".join(f"{quote_ident(k)} IS ?" for k in before)
    cur = conn.execute(f"UPDATE {quote_ident(table)} SET {sets} WHERE {_where(key)}" + (f" AND {held}" if held
                                                                                        else ""),
                       [*after.values(), *key.values(), *before.values()])
    return cur.rowcount == 1


def _probe_update(where: str, row: dict[str, Any] | None, before: dict[str, Any], after: dict[str, Any]) -> Probe:
    if row is None:
        return Probe("other", f"row {where} is gone", blocking=True)
    observed = {k: row.get(k) for k in after}
    if values_match(row, after):
        return Probe("after", observed=observed)
    if values_match(row, before):
        return Probe("before", observed=observed)
    diffs = {k: {"expected": v, "found": row.get(k)} for k, v in after.items() if row.get(k) != v}
    return Probe("other", f"row {where} changed: {diffs}", observed=observed)


@register
@dataclass(frozen=True)
class RowUpdate(SqlEffect):
    """Set some columns of one row; `before` and `after` hold just the columns changed."""

    kind: ClassVar[str] = "row_update"
    db: str
    table: str
    key: dict[str, Any]
    before: dict[str, Any]
    after: dict[str, Any]

    def targets(self) -> tuple[str, ...]:
        return (row_target(self.db, self.table, self.key),)

    @classmethod
    def targets_in_json(cls, data: dict[str, Any]) -> tuple[str, ...]:
        return (row_target(data["db"], data["table"], data["key"]),)

    def describe(self) -> str:
        return f"update {self.table} {_key_text(self.key)} set {', '.join(sorted(self.after))} in {self.db}"

    def render(self) -> list[str]:
        return [f"update {self.table} {self.key} in {self.db}"] + [
            f"  {col}: {self.before.get(col)!r} -> {self.after[col]!r}" for col in sorted(self.after)]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "db": self.db, "table": self.table, "key": _row_json(self.key),
                "before": _row_json(self.before), "after": _row_json(self.after)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RowUpdate:
        return cls(data["db"], data["table"], _row_from(data["key"]), _row_from(data["before"]),
                   _row_from(data["after"]))

    def inverse(self) -> RowUpdate:
        return RowUpdate(self.db, self.table, self.key, self.after, self.before)

    def probe_in(self, conn: sqlite3.Connection) -> Probe:
        row = fetch_row(conn, self.table, self.key, list(self.after))
        return _probe_update(f"{self.table} {self.key}", row, self.before, self.after)

    def rebased_inverse(self, seen: Probe) -> Effect:
        inverse = self.inverse()
        return RowUpdate(self.db, self.table, self.key, dict(seen.observed), inverse.after) if seen.observed \
            else inverse

    def apply_in(self, conn: sqlite3.Connection) -> None:
        if not _swap(conn, self.table, self.key, self.before, self.after):
            self._refuse_unless_before(self.probe_in(conn))
            raise CasFailed(f"{self.describe()}: the row does not hold the expected values")


@dataclass(frozen=True)
class _WholeRow(SqlEffect):
    """A whole row, and its `rowid` when known (so a deleted row comes back under the same rowid;
    older journals have none, and the row then gets a new one)."""

    db: str
    table: str
    key: dict[str, Any]
    row: dict[str, Any]
    rowid: int | None = None

    def targets(self) -> tuple[str, ...]:
        return (row_target(self.db, self.table, self.key),)

    @classmethod
    def targets_in_json(cls, data: dict[str, Any]) -> tuple[str, ...]:
        return (row_target(data["db"], data["table"], data["key"]),)

    def render(self) -> list[str]:
        return [self.describe(), f"  row: {short(str(self.row))}"]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "db": self.db, "table": self.table, "key": _row_json(self.key),
                               "row": _row_json(self.row)}
        if self.rowid is not None:
            out["rowid"] = self.rowid
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Effect:
        rowid = data.get("rowid")
        return cls(data["db"], data["table"], _row_from(data["key"]), _row_from(data["row"]),
                   int(rowid) if isinstance(rowid, int) else None)


@register
@dataclass(frozen=True)
class RowInsert(_WholeRow):
    """Insert a whole row (before: absent, after: present with exactly these values), under its
    recorded rowid when there is one and it is free."""

    kind: ClassVar[str] = "row_insert"

    def describe(self) -> str:
        return f"insert into {self.table} {_key_text(self.key)} in {self.db}"

    def inverse(self) -> RowDelete:
        return RowDelete(self.db, self.table, self.key, self.row, self.rowid)

    def probe_in(self, conn: sqlite3.Connection) -> Probe:
        row = fetch_row(conn, self.table, self.key)
        if row is None:
            return Probe("before")
        observed = {"row": row, "rowid": fetch_rowid(conn, self.table, self.key)}
        if values_match(row, self.row):
            return Probe("after", observed=observed)
        return Probe("after_drift", f"row {self.table} {self.key} changed since it was inserted", observed=observed)

    def rebased_inverse(self, seen: Probe) -> Effect:
        if "row" in seen.observed:
            return RowDelete(self.db, self.table, self.key, dict(seen.observed["row"]), seen.observed.get("rowid"))
        return self.inverse()

    def apply_in(self, conn: sqlite3.Connection) -> None:
        self._refuse_unless_before(self.probe_in(conn))
        values = dict(self.row)
        if self.rowid is not None and _rowid_free(conn, self.table, self.rowid):
            values = {"rowid": self.rowid, **values}
        cols = ", ".join(quote_ident(k) if k != "rowid" else "rowid" for k in values)
        marks = ", ".join("?" for _ in values)
        conn.execute(f"INSERT INTO {quote_ident(self.table)} ({cols}) VALUES ({marks})", list(values.values()))


def _rowid_free(conn: sqlite3.Connection, table: str, rowid: int) -> bool:
    try:
        return conn.execute(f"SELECT 1 FROM {quote_ident(table)} WHERE rowid = ?", (rowid,)).fetchone() is None
    except sqlite3.OperationalError:  # a table WITHOUT ROWID
        return False


@register
@dataclass(frozen=True)
class RowDelete(_WholeRow):
    """Delete a whole row, keeping all its values (and its rowid) so the delete can be reversed."""

    kind: ClassVar[str] = "row_delete"

    def describe(self) -> str:
        return f"delete from {self.table} {_key_text(self.key)} in {self.db}"

    def inverse(self) -> RowInsert:
        return RowInsert(self.db, self.table, self.key, self.row, self.rowid)

    def probe_in(self, conn: sqlite3.Connection) -> Probe:
        row = fetch_row(conn, self.table, self.key)
        if row is None:
            return Probe("after")
        if values_match(row, self.row):
            return Probe("before", observed={"row": row})
        return Probe("other", f"row {self.table} {self.key} differs from the row to delete", observed={"row": row})

    def apply_in(self, conn: sqlite3.Connection) -> None:
        self._refuse_unless_before(self.probe_in(conn))
        conn.execute(f"DELETE FROM {quote_ident(self.table)} WHERE {_where(self.key)}", list(self.key.values()))


@dataclass(frozen=True)
class RowChange:
    """One row of a `rows_update`: its own key values, and the columns' values before and after."""

    key: tuple[Any, ...]
    before: tuple[Any, ...]
    after: tuple[Any, ...]


@register
@dataclass(frozen=True)
class RowsUpdate(SqlEffect):
    """Set the same columns of many rows of one table, each to its own value.

    Every row's key is `match` (columns all the rows share, such as a parent's id) plus its own
    values of the `key` columns; the journal stores the shared parts once, so the offsets of
    a hundred turns cost a few bytes each. Compare-and-swap is per row.
    """

    kind: ClassVar[str] = "rows_update"
    db: str
    table: str
    match: dict[str, Any]
    key: tuple[str, ...]
    columns: tuple[str, ...]
    rows: tuple[RowChange, ...]

    def row_key(self, change: RowChange) -> dict[str, Any]:
        return {**self.match, **dict(zip(self.key, change.key, strict=True))}

    def targets(self) -> tuple[str, ...]:
        return tuple(row_target(self.db, self.table, self.row_key(r)) for r in self.rows)

    @classmethod
    def targets_in_json(cls, data: dict[str, Any]) -> tuple[str, ...]:
        match, key = data["match"], data["key"]
        return tuple(row_target(data["db"], data["table"], {**match, **dict(zip(key, row[0], strict=True))})
                     for row in data["rows"])

    def describe(self) -> str:
        return (f"update {len(self.rows)} row(s) of {self.table} {_key_text(self.match)} "
                f"set {', '.join(self.columns)} in {self.db}")

    def render(self) -> list[str]:
        lines = [f"update {self.table} {self.match} in {self.db}: {len(self.rows)} row(s)"]
        for r in self.rows:
            values = ", ".join(f"{c}: {b!r} -> {a!r}" for c, b, a in zip(self.columns, r.before, r.after,
                                                                          strict=True) if a != b)
            lines.append(f"  {dict(zip(self.key, r.key, strict=True))}: {values or 'unchanged'}")
        return lines

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "db": self.db, "table": self.table, "match": _row_json(self.match),
                "key": list(self.key), "columns": list(self.columns),
                "rows": [[[sql_to_json(v) for v in part] for part in (r.key, r.before, r.after)]
                         for r in self.rows]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RowsUpdate:
        rows = tuple(RowChange(*(tuple(sql_from_json(v) for v in part) for part in row)) for row in data["rows"])
        return cls(data["db"], data["table"], _row_from(data["match"]), tuple(data["key"]),
                   tuple(data["columns"]), rows)

    def inverse(self) -> RowsUpdate:
        return RowsUpdate(self.db, self.table, self.match, self.key, self.columns,
                          tuple(RowChange(r.key, r.after, r.before) for r in self.rows))

    def _probe_rows(self, conn: sqlite3.Connection) -> list[Probe]:
        seen = []
        for r in self.rows:
            key = self.row_key(r)
            seen.append(_probe_update(f"{self.table} {key}", fetch_row(conn, self.table, key, self.columns),
                                      dict(zip(self.columns, r.before, strict=True)),
                                      dict(zip(self.columns, r.after, strict=True))))
        return seen

    def probe_in(self, conn: sqlite3.Connection) -> Probe:
        seen = self._probe_rows(conn)
        states = {s.state for s in seen}
        observed = {"rows": [[s.observed.get(c) for c in self.columns] for s in seen]}
        if len(states) == 1 and states <= {"before", "after"}:
            return Probe(seen[0].state, observed=observed)
        odd = [s for s in seen if s.state == "other"]
        detail = "; ".join(s.detail for s in odd) if odd else "some rows hold their before values, some their after"
        return Probe("other", detail, blocking=any(s.blocking for s in odd), observed=observed)

    def rebased_inverse(self, seen: Probe) -> Effect:
        found = seen.observed.get("rows")
        if not found or len(found) != len(self.rows):
            return self.inverse()
        return RowsUpdate(self.db, self.table, self.match, self.key, self.columns,
                          tuple(RowChange(r.key, tuple(now), r.before) for r, now in zip(self.rows, found,
                                                                                      strict=True)))

    def apply_in(self, conn: sqlite3.Connection) -> None:
        """Each row swapped in one statement; the first that does not hold its before values
        fails the step (the caller's transaction is rolled back, so no row changes)."""
        for r in self.rows:
            if not _swap(conn, self.table, self.row_key(r), dict(zip(self.columns, r.before, strict=True)),
                         dict(zip(self.columns, r.after, strict=True))):
                seen = self.probe_in(conn)
                raise CasFailed(f"{self.describe()}: {seen.detail or 'already ' + seen.state}")
