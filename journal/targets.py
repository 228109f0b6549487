"""Check and apply effects against the real file system and SQLite databases.

`probe` says where a target is now (at `before`, at `after`, or somewhere else) and what
was observed; the apply functions perform compare-and-swap writes: each re-checks the
`before` value right before it writes, and raises CasFailed instead of half-applying.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from journal.effects import (
    Effect,
    FileMove,
    LineRewrite,
    LineSplice,
    RowDelete,
    RowInsert,
    RowUpdate,
    SqlEffect,
    invert,
)
from journal.errors import OutsideAllowedRoots, ToolError
from journal.platform import HAS_SYNCFS, fsync_dir, syncfs, with_retry

State = Literal["before", "after", "after_drift", "mid", "other"]
SQLITE_TIMEOUT_S = 5.0


class CasFailed(ToolError):
    """A target no longer holds the value an effect expects; nothing was written."""

    code = "cas_failed"


@dataclass(frozen=True)
class Probe:
    """Where one effect's target is now.

    `after_drift` means the target is where the effect put it but was changed since
    (forceable for undo); `other` with `blocking` means no undo can be built from it.
    """

    state: State
    detail: str = ""
    blocking: bool = False
    observed: dict[str, Any] = field(default_factory=dict)


def file_digest(path: str | Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def read_line(path: str | Path, number: int) -> bytes | None:
    """Line `number` (1-based) without its newline, or None if the file is shorter."""
    with open(path, "rb") as handle:
        for index, raw in enumerate(handle, start=1):
            if index == number:
                return raw[:-1] if raw.endswith(b"\n") else raw
    return None


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def connect_rw(db: str) -> sqlite3.Connection:
    """Explicit transactions only; never changes the journal mode or schema."""
    if not os.path.exists(db):
        raise CasFailed(f"database {db} does not exist")
    conn = sqlite3.connect(db, timeout=SQLITE_TIMEOUT_S, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(SQLITE_TIMEOUT_S * 1000)}")
    return conn


def connect_ro(db: str) -> sqlite3.Connection:
    """Read-only, sees the WAL, creates nothing."""
    uri = Path(db).absolute().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT_S)


def fetch_row(conn: sqlite3.Connection, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    where = " AND ".join(f"{quote_ident(k)} = ?" for k in key)
    cur = conn.execute(f"SELECT * FROM {quote_ident(table)} WHERE {where}", list(key.values()))
    rows = cur.fetchall()  # exhaust the cursor so no read transaction stays open
    if not rows:
        return None
    return {d[0]: v for d, v in zip(cur.description, rows[0], strict=True)}


class IOContext:
    """Connections and durability for one run.

    One connection per database for the whole run (opening one re-parses Codex's schema
    each time), with `synchronous=NORMAL` as Codex itself uses. With `deferred_sync`, file
    and directory syncs are collected and made at once by `flush()` (one syncfs per file
    system), which the runner calls before it makes the batch's outcomes durable.
    """

    def __init__(self, *, deferred_sync: bool = False) -> None:
        self.deferred_sync = deferred_sync
        self._conns: dict[str, sqlite3.Connection] = {}
        self._dirty: set[str] = set()

    def conn(self, db: str) -> sqlite3.Connection:
        conn = self._conns.get(db)
        if conn is None:
            conn = connect_rw(db)
            # NORMAL (as Codex) leaves the WAL to the syncfs in flush(); without syncfs each
            # commit must sync the WAL itself
            conn.execute("PRAGMA synchronous = " + ("NORMAL" if HAS_SYNCFS else "FULL"))
            self._conns[db] = conn
        return conn

    def sync_file(self, fd: int, path: str) -> None:
        if self.deferred_sync and HAS_SYNCFS:
            self._dirty.add(os.path.dirname(path))
        else:
            os.fsync(fd)  # no syncfs to defer to: this file's own fsync, now

    def sync_dir(self, path: str) -> None:
        if self.deferred_sync:
            self._dirty.add(path)
        else:
            fsync_dir(path)

    def flush(self) -> None:
        """Make every deferred write durable: one syncfs per file system touched (Linux), or
        each touched folder's fsync where files were already synced one by one."""
        dirty = set(self._dirty) | {os.path.dirname(db) for db in self._conns}
        self._dirty.clear()
        seen: set[int] = set()
        for folder in sorted(dirty):
            try:
                dev = os.stat(folder).st_dev
            except OSError:
                continue
            if not HAS_SYNCFS:
                fsync_dir(folder)
            elif dev not in seen:
                seen.add(dev)
                syncfs(folder)

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()


def _values_match(current: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(k in current and current[k] == v for k, v in expected.items())


# --------------------------------------------------------------------------- probes


def materialize(effect: Effect) -> Effect:
    """A format-2 splice as the whole-line rewrite it means, given its line as it is now;
    unchanged when the line holds neither value (or the effect is not a splice)."""
    if not isinstance(effect, LineSplice) or not os.path.exists(effect.path):
        return effect
    current = read_line(effect.path, effect.line)
    if current is None:
        return effect
    return effect.resolve(current) or effect


def probe(effect: Effect, io: IOContext | None = None) -> Probe:
    if isinstance(effect, FileMove):
        return _probe_move(effect)
    effect = materialize(effect)
    if isinstance(effect, LineSplice):
        exists = os.path.exists(effect.path)
        return Probe("other", f"line {effect.line} of {effect.path} holds neither the before nor the after value"
                     if exists else f"{effect.path} does not exist", blocking=True)
    if isinstance(effect, LineRewrite):
        return _probe_line(effect)
    if isinstance(effect, FileMove):  # a splice never materializes into a move; this keeps the types exact
        return _probe_move(effect)
    conn: sqlite3.Connection | None = None
    try:
        conn = io.conn(effect.db) if io is not None else connect_ro(effect.db)
        row = fetch_row(conn, effect.table, effect.key)
    except sqlite3.Error as exc:
        return Probe("other", f"cannot read {effect.db}: {exc}", blocking=True)
    finally:
        if io is None and conn is not None:
            conn.close()
    return _probe_row(effect, row)


def _probe_move(effect: FileMove) -> Probe:
    src_there = os.path.lexists(effect.src)
    dst_there = os.path.lexists(effect.dst)
    if src_there and dst_there:
        if os.path.samefile(effect.src, effect.dst):
            return Probe("mid", "both names link the same file (a move was interrupted)")
        return Probe("other", f"both {effect.src} and {effect.dst} exist", blocking=True)
    if not src_there and not dst_there:
        return Probe("other", f"neither {effect.src} nor {effect.dst} exists", blocking=True)
    here = effect.src if src_there else effect.dst
    if os.path.islink(here):
        return Probe("other", f"{here} is a symlink", blocking=True)
    sha, size = file_digest(here)
    observed = {"path": here, "sha256": sha, "size": size, "mtime_ns": os.stat(here).st_mtime_ns}
    if sha == effect.sha256:
        return Probe("before" if src_there else "after", observed=observed)
    if src_there:
        return Probe("other", f"{here} changed (sha256 {sha[:12]}…)", observed=observed)
    what = (f"{effect.size} -> {size} bytes" if size != effect.size
            else f"same size, content differs: sha256 {effect.sha256[:12]}… -> {sha[:12]}…")
    return Probe("after_drift", f"{here} changed since the move ({what})", observed=observed)


def _probe_line(effect: LineRewrite) -> Probe:
    if not os.path.exists(effect.path):
        return Probe("other", f"{effect.path} does not exist", blocking=True)
    current = read_line(effect.path, effect.line)
    if current == effect.before and current != effect.after:
        return Probe("before", observed={"line": current})
    if current == effect.after:
        sha, size = file_digest(effect.path)
        observed = {"line": current, "file_sha256": sha, "size": size}
        if effect.file_sha256_after is None or sha == effect.file_sha256_after:
            return Probe("after", observed=observed)
        return Probe("after_drift", f"{effect.path} changed since (now {size} bytes)", observed=observed)
    return Probe(
        "other",
        f"line {effect.line} of {effect.path} holds neither the before nor the after value",
        blocking=True,
        observed={"line": current},
    )


def _probe_row(effect: SqlEffect, row: dict[str, Any] | None) -> Probe:
    where = f"{effect.table} {effect.key}"
    if isinstance(effect, RowUpdate):
        if row is None:
            return Probe("other", f"row {where} is gone", blocking=True)
        observed = {k: row.get(k) for k in effect.after}
        if _values_match(row, effect.after):
            return Probe("after", observed=observed)
        if _values_match(row, effect.before):
            return Probe("before", observed=observed)
        diffs = {k: {"expected": v, "found": row.get(k)} for k, v in effect.after.items() if row.get(k) != v}
        return Probe("other", f"row {where} changed: {diffs}", observed=observed)
    if isinstance(effect, RowInsert):
        if row is None:
            return Probe("before")
        if _values_match(row, effect.row):
            return Probe("after", observed={"row": row})
        return Probe("after_drift", f"row {where} changed since it was inserted", observed={"row": row})
    if row is None:
        return Probe("after")
    if _values_match(row, effect.row):
        return Probe("before", observed={"row": row})
    return Probe("other", f"row {where} differs from the row to delete", observed={"row": row})


def rebased_inverse(effect: Effect, seen: Probe) -> Effect:
    """The inverse of `effect`, built from what is really there now.

    So the undo's own intent records true `before` values, and a later redo can check
    against them.
    """
    inverse = invert(materialize(effect))
    obs = seen.observed
    if isinstance(inverse, FileMove) and obs.get("sha256") and obs["sha256"] != inverse.sha256:
        return FileMove(inverse.src, inverse.dst, obs["sha256"], obs["size"], obs["mtime_ns"], None)
    if isinstance(inverse, LineRewrite) and "file_sha256" in obs:
        return LineRewrite(inverse.path, inverse.line, obs["line"], inverse.after, obs["file_sha256"], None)
    if isinstance(inverse, RowUpdate) and obs:
        return RowUpdate(inverse.db, inverse.table, inverse.key, dict(obs), inverse.after)
    if isinstance(inverse, RowDelete) and "row" in obs:
        return RowDelete(inverse.db, inverse.table, inverse.key, dict(obs["row"]))
    return inverse


# --------------------------------------------------------------------------- guard


class PathGuard:
    """Writes are allowed only inside these roots, and never through a symlinked file."""

    def __init__(self, roots: Iterable[str | Path]) -> None:
        self.roots = [os.path.realpath(r) for r in roots]

    def check(self, path: str) -> None:
        real_parent = cached_realpath(os.path.dirname(os.path.abspath(path)))
        if os.path.islink(path):
            raise OutsideAllowedRoots(f"{path} is a symlink; refusing to write through it")
        if not any(real_parent == r or real_parent.startswith(r + os.sep) for r in self.roots):
            raise OutsideAllowedRoots(f"{path} is outside the allowed roots {self.roots}")


@functools.lru_cache(maxsize=4096)
def cached_realpath(folder: str) -> str:
    """realpath of a folder, cached: plans and guards ask for the same few folders many times."""
    return os.path.realpath(folder)


# --------------------------------------------------------------------------- apply


def apply_move(effect: FileMove, on_step: Callable[[str], None] | None = None, io: IOContext | None = None) -> None:
    """No-clobber rename: link then unlink, so an existing destination is never replaced."""
    seen = _probe_move(effect)
    if seen.state != "before":
        raise CasFailed(f"cannot move: {seen.detail or seen.state}")
    dst_dir = os.path.dirname(effect.dst)
    os.makedirs(dst_dir, exist_ok=True)
    try:
        os.link(effect.src, effect.dst)
        linked = True
    except FileExistsError as exc:
        raise CasFailed(f"{effect.dst} already exists") from exc
    except OSError as exc:
        if exc.errno == errno.EXDEV:
            raise CasFailed(f"{effect.src} and {effect.dst} are on different file systems") from exc
        linked = False  # file systems without hard links: check, then rename under our lock
    if linked:
        if on_step:
            on_step("move-linked")
        with_retry(lambda: os.unlink(effect.src), effect.src, "remove the old name of")
    else:
        if os.path.lexists(effect.dst):
            raise CasFailed(f"{effect.dst} already exists")
        with_retry(lambda: os.rename(effect.src, effect.dst), effect.src, "move")
    if effect.after_mtime_ns is not None:
        st = os.stat(effect.dst)
        os.utime(effect.dst, ns=(st.st_atime_ns, effect.after_mtime_ns))
    sync_dir = io.sync_dir if io is not None else fsync_dir
    sync_dir(dst_dir)
    sync_dir(os.path.dirname(effect.src))


def finish_interrupted_move(effect: FileMove) -> None:
    """Both names link one file: drop the source name, completing the move."""
    with_retry(lambda: os.unlink(effect.src), effect.src, "remove the old name of")
    if effect.after_mtime_ns is not None:
        st = os.stat(effect.dst)
        os.utime(effect.dst, ns=(st.st_atime_ns, effect.after_mtime_ns))
    fsync_dir(os.path.dirname(effect.src))


def apply_line_rewrites(path: str, edits: list[LineRewrite], io: IOContext | None = None) -> None:
    """Rewrite lines in one pass: temp file in the same folder, same mtime, atomic rename."""
    st = os.stat(path)
    with open(path, "rb") as handle:
        data = handle.read()
    lines = data.split(b"\n")
    for edit in edits:
        index = edit.line - 1
        if index >= len(lines) or (index == len(lines) - 1 and lines[index] == b""):
            raise CasFailed(f"{path} has no line {edit.line}")
        if lines[index] != edit.before:
            raise CasFailed(f"line {edit.line} of {path} no longer holds the expected value")
        lines[index] = edit.after
    temp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.journal-tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, st.st_mode & 0o7777)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(b"\n".join(lines))
            out.flush()
            if io is not None:
                io.sync_file(out.fileno(), path)
            else:
                os.fsync(out.fileno())
        os.utime(temp, ns=(st.st_atime_ns, st.st_mtime_ns))
        now = os.stat(path)
        if (now.st_size, now.st_mtime_ns, now.st_ino) != (st.st_size, st.st_mtime_ns, st.st_ino):
            raise CasFailed(f"{path} changed while it was being rewritten")
        with_retry(lambda: os.replace(temp, path), path, "replace")
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    (io.sync_dir if io is not None else fsync_dir)(os.path.dirname(path))


def stale_temp_for(path: str) -> str:
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.journal-tmp")


def apply_sql(db: str, effects: list[SqlEffect], io: IOContext | None = None) -> None:
    """All of one operation's effects on one database, in one IMMEDIATE transaction."""
    conn = io.conn(db) if io is not None else connect_rw(db)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for effect in effects:
                _apply_sql_one(conn, effect)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        if io is None:
            conn.close()


def _apply_sql_one(conn: sqlite3.Connection, effect: SqlEffect) -> None:
    row = fetch_row(conn, effect.table, effect.key)
    seen = _probe_row(effect, row)
    if seen.state != "before":
        raise CasFailed(f"{effect.describe()}: {seen.detail or 'already ' + seen.state}")
    table = quote_ident(effect.table)
    key_sql = " AND ".join(f"{quote_ident(k)} = ?" for k in effect.key)
    if isinstance(effect, RowUpdate):
        sets = ", ".join(f"{quote_ident(k)} = ?" for k in effect.after)
        conn.execute(f"UPDATE {table} SET {sets} WHERE {key_sql}", [*effect.after.values(), *effect.key.values()])
    elif isinstance(effect, RowInsert):
        cols = ", ".join(quote_ident(k) for k in effect.row)
        marks = ", ".join("?" for _ in effect.row)
        conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(effect.row.values()))
    else:
        conn.execute(f"DELETE FROM {table} WHERE {key_sql}", list(effect.key.values()))


def plan_line_rewrites(path: str, new_lines: dict[int, bytes], data: bytes | None = None) -> tuple[LineRewrite, ...]:
    """LineRewrite effects for several lines of one file, with the digests undo relies on.

    `new_lines` maps 1-based line numbers to their new bytes; `data` is the file's content
    when the caller has already read it.
    """
    content = data if data is not None else Path(path).read_bytes()
    lines = content.split(b"\n")
    changed = list(lines)
    for number, after in new_lines.items():
        if number < 1 or number > len(lines) or (number == len(lines) and lines[-1] == b""):
            raise ValueError(f"{path} has no line {number}")
        changed[number - 1] = after
    sha_before = hashlib.sha256(content).hexdigest()
    sha_after = hashlib.sha256(b"\n".join(changed)).hexdigest()
    return tuple(
        LineRewrite(path, number, lines[number - 1], after, sha_before, sha_after)
        for number, after in sorted(new_lines.items())
    )
