"""Rows as planners read and change them: the current rows, read as the audit reads them, and
the row updates Codex's triggers expect."""

from __future__ import annotations

from typing import Any

from journal.effects import RowUpdate
from operations.home import CodexHome


def row_update(home: CodexHome, thread_id: str, before: dict[str, Any], after: dict[str, Any]) -> RowUpdate:
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    assert home.state_db is not None
    return RowUpdate(str(home.state_db), "threads", {"id": thread_id}, {k: before.get(k) for k in changed}, changed)


def with_updated_at(columns: tuple[str, ...], seconds: int, ms: int) -> dict[str, Any]:
    """updated_at and, where the schema has it, updated_at_ms (so Codex's trigger leaves it alone)."""
    values: dict[str, Any] = {"updated_at": seconds}
    if "updated_at_ms" in columns:
        values["updated_at_ms"] = ms
    return values


def text_as_audit_reads(data: bytes) -> str:
    """SQLite text as the audit reads it: UTF-8, and bytes that are not UTF-8 shown as U+FFFD,
    so one bad byte in a row never makes a read fail."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")


def current_rows(home: CodexHome, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Whole rows for these ids, read with one read-only connection; text as the audit reads it
    (a row that is not UTF-8 is `undecodable_row` in the audit, which repairs leave alone)."""
    from journal.sqlio import connect_ro

    out: dict[str, dict[str, Any]] = {}
    if not ids or home.state_db is None:
        return out
    conn = connect_ro(str(home.state_db))
    conn.text_factory = text_as_audit_reads
    try:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cur = conn.execute(f"SELECT * FROM threads WHERE id IN ({', '.join('?' for _ in chunk)})", chunk)
            names = [d[0] for d in cur.description]
            for values in cur:
                row = dict(zip(names, values, strict=True))
                out[row["id"]] = row
    finally:
        conn.close()
    return out
