"""The kinds of change the journal records, each with its before and after values.

An effect is pure data: it can be written to the journal, read back, and inverted. How an
effect is checked and applied against the real file system or database lives in
`journal.targets`.
"""

from __future__ import annotations

import functools
import hashlib
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

    @functools.cached_property
    def splice(self) -> LineSplice:
        """Computed once per rewrite: plans, intents and outputs all encode it."""
        return self.as_splice()

    def as_splice(self) -> LineSplice:
        """What the journal stores (format 2): the changed bytes and digests, not the whole line."""
        at, old, new = splice_of(self.before, self.after)
        return LineSplice(self.path, self.line, at, old, new, sha256_hex(self.before), sha256_hex(self.after),
                          self.file_sha256_before, self.file_sha256_after, json_changes(self.before, self.after))


@dataclass(frozen=True)
class LineSplice:
    """A line rewrite as format 2 records it: at byte `at` of line `line`, `old` became `new`;
    the whole line's digest before and after (and the file's) guard compare-and-swap. The
    whole line is rebuilt from the file when the splice is checked or applied
    (`resolve`), byte for byte. `fields` names the JSON values that changed, for people."""

    path: str
    line: int
    at: int
    old: bytes
    new: bytes
    line_sha256_before: str
    line_sha256_after: str
    file_sha256_before: str | None = None
    file_sha256_after: str | None = None
    fields: tuple[tuple[str, Any, Any], ...] = ()
    kind: str = "line_splice"

    def targets(self) -> tuple[str, ...]:
        return (f"file:{self.path}",)

    def describe(self) -> str:
        return f"rewrite line {self.line} of {self.path}"

    def resolve(self, current: bytes) -> LineRewrite | None:
        """The whole-line rewrite this splice means, given the line as it is now (at its
        before or its after value), or None when the line holds neither."""
        digest = sha256_hex(current)
        if digest == self.line_sha256_before and current[self.at:self.at + len(self.old)] == self.old:
            after = current[:self.at] + self.new + current[self.at + len(self.old):]
            if sha256_hex(after) == self.line_sha256_after:
                return LineRewrite(self.path, self.line, current, after, self.file_sha256_before,
                                   self.file_sha256_after)
        if digest == self.line_sha256_after and current[self.at:self.at + len(self.new)] == self.new:
            before = current[:self.at] + self.old + current[self.at + len(self.new):]
            if sha256_hex(before) == self.line_sha256_before:
                return LineRewrite(self.path, self.line, before, current, self.file_sha256_before,
                                   self.file_sha256_after)
        return None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def splice_of(before: bytes, after: bytes) -> tuple[int, bytes, bytes]:
    """(offset, old, new): the smallest middle that differs, the common head and tail kept.

    Binary searches over slice comparisons (memcmp in C): lines are ~21 KB in real rollouts."""
    limit = min(len(before), len(after))
    low, high = 0, limit  # the common head is at least low and at most high bytes long
    while low < high:
        mid = (low + high + 1) // 2
        if before[:mid] == after[:mid]:
            low = mid
        else:
            high = mid - 1
    head = low
    low, high = 0, limit - head
    while low < high:
        mid = (low + high + 1) // 2
        if before[len(before) - mid:] == after[len(after) - mid:]:
            low = mid
        else:
            high = mid - 1
    tail = low
    return head, before[head:len(before) - tail], after[head:len(after) - tail]


def json_changes(before: bytes, after: bytes, limit: int = 8) -> tuple[tuple[str, Any, Any], ...]:
    """The dotted paths whose JSON values differ between two lines (when both parse), for display."""
    try:
        a, b = orjson.loads(before), orjson.loads(after)
    except orjson.JSONDecodeError:
        return ()
    found: list[tuple[str, Any, Any]] = []

    def walk(x: Any, y: Any, path: str) -> None:
        if len(found) >= limit:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for k in list(x) + [k for k in y if k not in x]:
                walk(x.get(k, _ABSENT), y.get(k, _ABSENT), f"{path}.{k}" if path else str(k))
        elif x != y:
            found.append((path, None if x is _ABSENT else x, None if y is _ABSENT else y))

    walk(a, b, "")
    return tuple(found)


_ABSENT: Any = object()


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


Effect = FileMove | LineRewrite | LineSplice | RowUpdate | RowInsert | RowDelete
SqlEffect = RowUpdate | RowInsert | RowDelete


def _key_text(key: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(key.items()))


def row_target(db: str, table: str, key: dict[str, Any]) -> str:
    return f"row:{db}|{table}|{orjson.dumps(key, option=orjson.OPT_SORT_KEYS).decode()}"


def json_targets(data: dict[str, Any]) -> list[str]:
    """The targets of an effect as the journal stores it, named as `Effect.targets()` names them,
    without building the effect (the log streams millions of lines)."""
    if "table" in data:
        return [row_target(data["db"], data["table"], data.get("key") or {})]
    return [f"file:{data[k]}" for k in ("src", "dst", "path") if k in data]


def op_state(outcome: str | None, effective: bool, compensated: bool) -> str:
    """An operation's state, derived (never stored): pending, failed, skipped, not applied, in
    effect, undone (a compensation of it is in effect) or redone (it was undone, and that undone)."""
    if outcome is None:
        return "pending"
    if outcome == "not_applied":
        return "not applied"
    if outcome != "applied":
        return outcome
    if not effective:
        return "undone"
    return "redone" if compensated else "in effect"


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
    if isinstance(effect, LineSplice):
        return LineSplice(effect.path, effect.line, effect.at, effect.new, effect.old, effect.line_sha256_after,
                          effect.line_sha256_before, effect.file_sha256_after, effect.file_sha256_before,
                          tuple((f, new, old) for f, old, new in effect.fields))
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
        return effect_to_json(effect.splice)  # format 2 never stores whole lines
    if isinstance(effect, LineSplice):
        out = {
            "kind": effect.kind,
            "path": effect.path,
            "line": effect.line,
            "at": effect.at,
            "old": bytes_to_json(effect.old),
            "new": bytes_to_json(effect.new),
            "line_sha256_before": effect.line_sha256_before,
            "line_sha256_after": effect.line_sha256_after,
            "file_sha256_before": effect.file_sha256_before,
            "file_sha256_after": effect.file_sha256_after,
        }
        if effect.fields:
            out["fields"] = [{"path": f, "before": a, "after": b} for f, a, b in effect.fields]
        return out
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
    if kind == "line_splice":
        return LineSplice(
            data["path"], int(data["line"]), int(data["at"]), bytes_from_json(data["old"]),
            bytes_from_json(data["new"]), data["line_sha256_before"], data["line_sha256_after"],
            data.get("file_sha256_before"), data.get("file_sha256_after"),
            tuple((f["path"], f.get("before"), f.get("after")) for f in data.get("fields", [])),
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
    if isinstance(effect, LineRewrite | LineSplice):
        return (effect.path,)
    return (effect.db,)
