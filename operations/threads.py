"""Rows of the `threads` table, read defensively: only columns this schema has."""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journal.sqlio import SQLITE_ERRORS, connect_ro, fetch_row, quote_ident
from operations.schema import StateSchema, damaged

INTEGER_COLUMNS = ("archived", "archived_at", "created_at", "updated_at", "updated_at_ms", "recency_at_ms")
WANTED = ("id", "rollout_path", "created_at", "updated_at", "source", "model_provider", "cwd", "title",
          "archived", "archived_at", "first_user_message", "preview", "thread_source", "history_mode",
          "updated_at_ms", "cli_version", "recency_at_ms")


@dataclass(slots=True)
class ThreadRow:
    id: str
    rollout_path: str
    archived: int
    archived_at: int | None
    model_provider: str
    cwd: str
    source: str
    preview: str | None  # None when this schema has neither preview nor first_user_message
    thread_source: str | None
    created_at: int | None
    updated_at: int | None
    history_mode: str | None
    recency_ms: int = 0  # recency_at_ms, else updated_at_ms, else updated_at in ms: how lists sort
    undecodable: tuple[str, ...] = ()  # columns holding bytes that are not UTF-8 (shown with U+FFFD)
    malformed: tuple[str, ...] = ()  # columns holding a value of a type Codex never writes there

    @property
    def has_empty_preview(self) -> bool:
        return self.preview is not None and self.preview == ""


def load_rows(db: Path, schema: StateSchema) -> list[ThreadRow]:
    try:
        return _load_rows(db, schema)
    except SQLITE_ERRORS as exc:
        raise damaged(db, exc) from None


def _load_rows(db: Path, schema: StateSchema) -> list[ThreadRow]:
    columns = [c for c in WANTED if schema.has(c)]
    conn = connect_ro(str(db))
    try:
        try:
            return _read_rows(conn, columns, fast=True)
        except sqlite3.OperationalError as exc:
            if "decode" not in str(exc).lower():
                raise
        # A value that is not UTF-8: read again as bytes, so the bad byte names its thread.
        return _read_rows(conn, columns, fast=False)
    finally:
        conn.close()


def _suspect(columns: list[str]) -> str:
    """SQL that is 1 when a row holds a value of a type Codex never writes in that column: only
    such rows (almost never any) take the slow, checking path."""
    tests = [f"typeof({quote_ident(c)}) NOT IN ('integer', 'null')" if c in INTEGER_COLUMNS
             else "typeof(id) <> 'text'" if c == "id"
             else f"typeof({quote_ident(c)}) NOT IN ('text', 'null')" for c in columns]
    return " OR ".join(tests)


def _read_rows(conn: sqlite3.Connection, columns: list[str], *, fast: bool) -> list[ThreadRow]:
    """Rows as ThreadRows. `fast`: SQLite decodes the text (in C), and only rows the SQL marks as
    suspect are checked value by value; otherwise every value comes as bytes and is decoded here."""
    conn.text_factory = str if fast else bytes
    cur = conn.execute(f"SELECT {', '.join(quote_ident(c) for c in columns)}, ({_suspect(columns)}), NULL "
                       "FROM threads")
    width = len(columns)
    pick = _row_picker(columns)
    rows: list[ThreadRow] = []
    append = rows.append
    for raw in cur:
        if fast and not raw[width]:  # text decoded by SQLite, every type as Codex writes it
            id_, path, archived, archived_at, provider, cwd, source, preview, thread_source, created, updated, mode, \
                recency, updated_ms = pick(raw)
            append(ThreadRow(id_, path or "", archived or 0, archived_at, provider or "", cwd or "", source or "",
                             preview, thread_source, created, updated, mode,
                             recency or updated_ms or (updated or 0) * 1000))
        else:
            append(_checked_row(columns, raw[:width]))
    return rows


def _row_picker(columns: list[str]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """The values `_row` takes from a row, in ThreadRow's order, picked in C: a column this
    schema lacks is read from the query's trailing NULL."""
    null = len(columns) + 1

    def at(*names: str) -> int:
        return next((columns.index(n) for n in names if n in columns), null)

    return operator.itemgetter(
        at("id"), at("rollout_path"), at("archived"), at("archived_at"), at("model_provider"), at("cwd"), at("source"),
        at("preview", "first_user_message"), at("thread_source"), at("created_at"), at("updated_at"),
        at("history_mode"), at("recency_at_ms"), at("updated_at_ms"))


def _checked_row(columns: list[str], raw: tuple[Any, ...]) -> ThreadRow:
    """One row, every value decoded and type-checked: a bad byte or a wrong type names its column."""
    data: dict[str, Any] = {}
    bad: list[str] = []
    for column, value in zip(columns, raw, strict=True):
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                value = value.decode("utf-8", "replace")
                bad.append(column)
        data[column] = value
    wrong = _wrong_types(data)
    for column in wrong:  # read as nothing, so no later step trips over it
        data[column] = None if column in INTEGER_COLUMNS else str(data[column])
    return _row(data, tuple(bad), wrong)


def _row(data: dict[str, Any], undecodable: tuple[str, ...] = (), malformed: tuple[str, ...] = ()) -> ThreadRow:
    preview = data.get("preview") if "preview" in data else data.get("first_user_message")
    return ThreadRow(
        id=str(data["id"]), rollout_path=str(data.get("rollout_path") or ""),
        archived=int(data.get("archived") or 0), archived_at=data.get("archived_at"),
        model_provider=str(data.get("model_provider") or ""), cwd=str(data.get("cwd") or ""),
        source=str(data.get("source") or ""), preview=preview, thread_source=data.get("thread_source"),
        created_at=data.get("created_at"), updated_at=data.get("updated_at"),
        history_mode=data.get("history_mode"),
        recency_ms=int(data.get("recency_at_ms") or data.get("updated_at_ms") or (data.get("updated_at") or 0) * 1000),
        undecodable=undecodable, malformed=malformed,
    )


def _wrong_types(data: dict[str, Any]) -> tuple[str, ...]:
    """Columns whose value is of a type Codex never writes there (a damaged or hand-edited row)."""
    wrong = []
    for column, value in data.items():
        if value is None:
            if column == "id":
                wrong.append(column)
        elif column in INTEGER_COLUMNS:
            if not isinstance(value, int):
                wrong.append(column)
        elif not isinstance(value, str):
            wrong.append(column)
    return tuple(wrong)


def full_row(db: Path, thread_id: str) -> dict[str, Any] | None:
    conn = connect_ro(str(db))
    conn.text_factory = lambda b: b.decode("utf-8", "replace")
    try:
        return fetch_row(conn, "threads", {"id": thread_id})
    finally:
        conn.close()
