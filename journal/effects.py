"""The kinds of change the journal records, each with its before and after values.

An effect is pure data: it can be written to the journal, read back, and inverted. How an
effect is checked and applied against the real file system or database lives in
`journal.targets`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import orjson

from journal.codec import bytes_from_json, bytes_to_json, sql_from_json, sql_to_json


@dataclass(frozen=True)
class FileMove:
    """Rename `src` to `dst` (never over an existing file).

    `sha256`, `size` and `mtime_ns` describe the content being moved; `after_mtime_ns`,
    when set, is the mtime the file gets once moved (Codex touches on unarchive).
    """

    src: str
    dst: str
    sha256: str
    size: int
    mtime_ns: int
    after_mtime_ns: int | None = None
    kind: str = "file_move"

    def targets(self) -> tuple[str, ...]:
        return (f"file:{self.src}", f"file:{self.dst}")

    def describe(self) -> str:
        return f"move {self.src} -> {self.dst}"


@dataclass(frozen=True)
class LineRewrite:
    """Replace the exact bytes of line `line` (1-based, without its newline) in `path`.

    The rest of the file and its mtime are untouched. `file_sha256_after` is the whole
    file's digest once this operation's rewrites of the file are done; undo uses it to
    notice later changes (for example a turn appended by Codex).
    """

    path: str
    line: int
    before: bytes
    after: bytes
    file_sha256_before: str | None = None
    file_sha256_after: str | None = None
    kind: str = "line_rewrite"

    def targets(self) -> tuple[str, ...]:
        return (f"file:{self.path}",)

    def describe(self) -> str:
        return f"rewrite line {self.line} of {self.path}"


@dataclass(frozen=True)
class RowUpdate:
    """Set some columns of one row; `before` and `after` hold just the columns changed."""

    db: str
    table: str
    key: dict[str, Any]
    before: dict[str, Any]
    after: dict[str, Any]
    kind: str = "row_update"

    def targets(self) -> tuple[str, ...]:
        return (row_target(self.db, self.table, self.key),)

    def describe(self) -> str:
        cols = ", ".join(sorted(self.after))
        return f"update {self.table} {_key_text(self.key)} set {cols} in {self.db}"


@dataclass(frozen=True)
class RowInsert:
    """Insert a whole row (before: absent, after: present with exactly these values)."""

    db: str
    table: str
    key: dict[str, Any]
    row: dict[str, Any]
    kind: str = "row_insert"

    def targets(self) -> tuple[str, ...]:
        return (row_target(self.db, self.table, self.key),)

    def describe(self) -> str:
        return f"insert into {self.table} {_key_text(self.key)} in {self.db}"


@dataclass(frozen=True)
class RowDelete:
    """Delete a whole row, keeping all its values so the delete can be reversed."""

    db: str
    table: str
    key: dict[str, Any]
    row: dict[str, Any]
    kind: str = "row_delete"

    def targets(self) -> tuple[str, ...]:
        return (row_target(self.db, self.table, self.key),)

    def describe(self) -> str:
        return f"delete from {self.table} {_key_text(self.key)} in {self.db}"


Effect = FileMove | LineRewrite | RowUpdate | RowInsert | RowDelete
SqlEffect = RowUpdate | RowInsert | RowDelete


def _key_text(key: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(key.items()))


def row_target(db: str, table: str, key: dict[str, Any]) -> str:
    return f"row:{db}|{table}|{orjson.dumps(key, option=orjson.OPT_SORT_KEYS).decode()}"


def invert(effect: Effect) -> Effect:
    """The effect that takes the target from `after` back to `before`."""
    if isinstance(effect, FileMove):
        at_dst = effect.after_mtime_ns if effect.after_mtime_ns is not None else effect.mtime_ns
        restore = effect.mtime_ns if effect.after_mtime_ns is not None else None
        return FileMove(effect.dst, effect.src, effect.sha256, effect.size, at_dst, restore)
    if isinstance(effect, LineRewrite):
        return LineRewrite(
            effect.path,
            effect.line,
            effect.after,
            effect.before,
            effect.file_sha256_after,
            effect.file_sha256_before,
        )
    if isinstance(effect, RowUpdate):
        return replace(effect, before=effect.after, after=effect.before)
    if isinstance(effect, RowInsert):
        return RowDelete(effect.db, effect.table, effect.key, effect.row)
    return RowInsert(effect.db, effect.table, effect.key, effect.row)


def _row_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: sql_to_json(v) for k, v in row.items()}


def _row_from(row: dict[str, Any]) -> dict[str, Any]:
    return {k: sql_from_json(v) for k, v in row.items()}


def effect_to_json(effect: Effect) -> dict[str, Any]:
    if isinstance(effect, FileMove):
        out: dict[str, Any] = {
            "kind": effect.kind,
            "src": effect.src,
            "dst": effect.dst,
            "sha256": effect.sha256,
            "size": effect.size,
            "mtime_ns": effect.mtime_ns,
        }
        if effect.after_mtime_ns is not None:
            out["after_mtime_ns"] = effect.after_mtime_ns
        return out
    if isinstance(effect, LineRewrite):
        return {
            "kind": effect.kind,
            "path": effect.path,
            "line": effect.line,
            "before": bytes_to_json(effect.before),
            "after": bytes_to_json(effect.after),
            "file_sha256_before": effect.file_sha256_before,
            "file_sha256_after": effect.file_sha256_after,
        }
    if isinstance(effect, RowUpdate):
        return {
            "kind": effect.kind,
            "db": effect.db,
            "table": effect.table,
            "key": _row_json(effect.key),
            "before": _row_json(effect.before),
            "after": _row_json(effect.after),
        }
    return {
        "kind": effect.kind,
        "db": effect.db,
        "table": effect.table,
        "key": _row_json(effect.key),
        "row": _row_json(effect.row),
    }


def effect_from_json(data: dict[str, Any]) -> Effect:
    kind = data.get("kind")
    if kind == "file_move":
        return FileMove(
            data["src"],
            data["dst"],
            data["sha256"],
            int(data["size"]),
            int(data["mtime_ns"]),
            data.get("after_mtime_ns"),
        )
    if kind == "line_rewrite":
        return LineRewrite(
            data["path"],
            int(data["line"]),
            bytes_from_json(data["before"]),
            bytes_from_json(data["after"]),
            data.get("file_sha256_before"),
            data.get("file_sha256_after"),
        )
    if kind == "row_update":
        return RowUpdate(
            data["db"],
            data["table"],
            _row_from(data["key"]),
            _row_from(data["before"]),
            _row_from(data["after"]),
        )
    if kind in ("row_insert", "row_delete"):
        cls = RowInsert if kind == "row_insert" else RowDelete
        return cls(data["db"], data["table"], _row_from(data["key"]), _row_from(data["row"]))
    raise ValueError(f"unknown effect kind {kind!r}")


def effect_paths(effect: Effect) -> tuple[str, ...]:
    """Every file-system path an effect writes (database files included)."""
    if isinstance(effect, FileMove):
        return (effect.src, effect.dst)
    if isinstance(effect, LineRewrite):
        return (effect.path,)
    return (effect.db,)
