"""`import` and `merge`: bring bundled threads into this home, one journaled operation each.

Each thread's rollout bytes are rewritten for this home as `migrate-provider` and
`rewrite-cwd` would (only the bytes of those values change), staged in
`codex-sessions/staging/` inside the home with their mtime, and then moved into place by the
operation, which also inserts the `threads` row (and the `thread_history` rows when the bytes
are unchanged, so their offsets stay true; otherwise Codex rebuilds them). Undo moves the
files back to staging and deletes the rows; redo moves them in again.

The bundle was checked before planning (`bundle_check.py`); still, every staging path and
every target passes the same path guard as every other write before the first staged byte,
and each file is read again from the bundle, checked against its sha256, as it is staged.
Only one rollout is held in memory at a time, and only when it must be rewritten.

A thread already here with the same content is skipped; with other content it is a
conflict, never overwritten unless `--replace` (the old file goes to staging, the old row is
deleted, both journaled).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from journal import faults
from journal.effects import Effect, FileMove, RowDelete, RowInsert
from journal.fileio import file_digest
from journal.guard import PathGuard, cached_realpath, within_roots
from journal.runner import PlannedOp
from journal.sqlio import connect_ro
from journal.zstdio import compress, decompress
from operations.bundle import Bundle, BundledFile, BundledThread, history_rows
from operations.codex_config import BUILTIN_PROVIDERS
from operations.errors import BundleRefused, NoStateDatabase, ProviderUndefined
from operations.home import CodexHome
from operations.jsonedit import EditRefused
from operations.repair.cwd import Mapping, _edit_cwd_lines, _rewriter, map_path
from operations.repair.plan import Plan, Why
from operations.repair.provider import _edit_provider_lines
from operations.repair.rollout_edit import RolloutEdit
from operations.repair.rollout_files import canonical_path
from operations.repair.rows import current_rows
from operations.repair.selection import RepairContext
from operations.rollout_io import MAX_CONTENT

STAGING = "staging"


@dataclass(frozen=True)
class ImportOptions:
    to_provider: str | None = None
    mappings: tuple[Mapping, ...] = ()
    from_style: str = "posix"
    replace: bool = False
    force: bool = False

    def describe(self) -> dict[str, Any]:
        return {"to_provider": self.to_provider, "map": [[m.source, m.target] for m in self.mappings],
                "from_style": self.from_style, "replace": self.replace, "force": self.force}


@dataclass(frozen=True)
class StagedFile:
    """A file the import writes into staging (read again from the bundle then), and where it goes."""

    path: str  # in the staging folder
    target: str  # where the operation moves it
    file: BundledFile
    sha256: str  # of the bytes staged (after any rewrite)
    size: int
    rewritten: bool


@dataclass
class ImportPlan:
    plan: Plan
    staged: list[StagedFile] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # already here, same content
    conflicts: list[dict[str, str]] = field(default_factory=list)


def staging_folder(home: CodexHome, stamp: str) -> Path:
    """Inside the Codex home (our own folder of it), so every move stays within the home."""
    return home.codex_home / "codex-sessions" / STAGING / stamp


def plan_import(ctx: RepairContext, bundle: Bundle, opts: ImportOptions, staging: Path, *,
                operation: str = "import") -> ImportPlan:
    home = ctx.home
    if home.state_db is None:
        raise NoStateDatabase(f"{home.codex_home} has no state database yet; run Codex there once (it creates it), "
                              "then import")
    plan = Plan(operation, options=opts.describe())
    out = ImportPlan(plan)
    if opts.to_provider:
        defined = set(home.config.providers) | set(BUILTIN_PROVIDERS)
        if opts.to_provider not in defined and not opts.force:
            raise ProviderUndefined(f"provider `{opts.to_provider}` is not defined in "
                                    f"{home.codex_home / 'config.toml'}; define it first, or pass --force")
    columns, required = _threads_columns(home)
    existing = current_rows(home, [t.id for t in bundle.threads])
    here = {t.id: t for t in ctx.report.threads}
    history_db = home.thread_history_db
    history_tables = _history_columns(history_db) if history_db is not None else {}
    rebuilt: list[str] = []
    roots = [cached_realpath(str(r)) for r in home.roots]
    undecodable = [t.id for t in bundle.threads if t.undecodable_columns]
    for thread in bundle.threads:
        plan.considered += 1
        try:
            files = [_planned_file(f, opts) for f in thread.files]
        except (EditRefused, orjson.JSONDecodeError) as exc:
            plan.leave(thread.id, Why("edit_refused", f"its rollout cannot be rewritten for this home: {exc}"))
            continue
        row = _row_for_home(thread, home, opts)
        missing = sorted(c for c in required if c not in row)
        if missing:
            plan.leave(thread.id, Why("missing_columns", f"this home's `threads` needs {', '.join(missing)}, which "
                                      "the bundle lacks"))
            continue
        row = {k: v for k, v in row.items() if k in columns}
        targets = [canonical_path(home, f.name, f.archived) for f, _, _ in files]
        outside = [str(p) for p in targets if not within_roots(str(p), roots)]
        if outside:
            plan.leave(thread.id, Why("outside_home", f"{outside[0]} is outside the Codex home; it is left alone"))
            continue
        audit = here.get(thread.id)
        effects: list[Effect] = []
        if thread.id in existing or (audit is not None and audit.files):
            same = thread.id in existing and all(
                p.is_file() and file_digest(p)[0] == sha for p, (_, sha, _) in zip(targets, files, strict=True))
            if same:
                out.skipped.append({"thread": thread.id, "reason": "already here with the same content"})
                continue
            why = ("a row with this id exists here with other content" if thread.id in existing
                   else "a rollout file with this id exists here")
            if audit is not None and "undecodable_row" in audit.problems:
                plan.leave(thread.id, Why("conflict_undecodable", f"conflict: {why}, and its row here holds bytes "
                                          "that are not UTF-8, so it is left alone"))
                continue
            if not opts.replace:
                out.conflicts.append({"thread": thread.id, "reason": why + " (--replace to overwrite, undoably)"})
                plan.leave(thread.id, Why("conflict", f"conflict: {why}; pass --replace to overwrite it (undoably)"))
                continue
            effects += _replace_effects(home, thread.id, existing.get(thread.id), audit, staging)
            if history_db is not None and history_db.exists():
                effects += _history_deletes(str(history_db), thread.id)
        for (f, sha, size), target in zip(files, targets, strict=True):
            staged = staging / f.name
            out.staged.append(StagedFile(str(staged), str(target), f, sha, size, sha != f.sha256))
            effects.append(FileMove(str(staged), str(target), sha, size, f.mtime_ns))
        assert home.state_db is not None
        effects.append(RowInsert(str(home.state_db), "threads", {"id": thread.id}, row))
        unchanged = all(sha == f.sha256 for f, sha, _ in files)
        if unchanged and history_db is not None:
            effects += _history_inserts(str(history_db), history_tables, thread)
        elif thread.history.get("turns") or thread.history.get("projection_state"):
            rebuilt.append(thread.id)
        plan.ops.append(PlannedOp(f"{operation} {thread.id}", tuple(effects), subject=thread.id))
    if rebuilt:
        plan.warnings.append(f"{len(rebuilt)} thread(s) get rewritten rollouts here, so their thread_history rows "
                             "are not copied: Codex rebuilds them from the rollout")
    if undecodable:
        plan.warnings.append(f"{len(undecodable)} thread(s) had row text that was not UTF-8 at the source "
                             f"({', '.join(undecodable[:5])}); it comes as the audit read it, with U+FFFD in "
                             "place of those bytes (the rollout itself is unchanged)")
    return out


def _planned_file(f: BundledFile, opts: ImportOptions) -> tuple[BundledFile, str, int]:
    """(file, sha256, size) of the bytes this home gets; a rewritten file is read, rewritten and
    let go (staging rewrites it again, checked against this digest)."""
    if not _rewrites(opts) and f.sha256 is not None:
        return f, f.sha256, f.size
    data = _transform(f.read(), f.name, opts)
    return f, _sha(data), len(data)


def _rewrites(opts: ImportOptions) -> bool:
    return bool(opts.to_provider or opts.mappings)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _transform(data: bytes, name: str, opts: ImportOptions) -> bytes:
    """The rollout bytes as this home needs them: provider and folders rewritten, nothing else."""
    if not _rewrites(opts):
        return data
    if name.endswith(".zst"):  # compressed (Codex's worker): rewritten in its content, compressed again as it does
        try:
            content = decompress(data, MAX_CONTENT)
        except ValueError as exc:
            raise EditRefused(f"{name}: {exc}") from None
        return compress(_transform(content, name[: -len(".zst")], opts))
    if opts.to_provider:  # each rewrite reads the bytes the one before it left
        edit = RolloutEdit.of(data)
        _edit_provider_lines(edit, opts.to_provider)
        data = b"\n".join(edit.line(n) for n in range(1, len(edit.lines) + 1))
    if opts.mappings:
        edit = RolloutEdit.of(data)
        _edit_cwd_lines(edit, _rewriter(list(opts.mappings), opts.from_style))
        data = b"\n".join(edit.line(n) for n in range(1, len(edit.lines) + 1))
    return data


def _row_for_home(thread: BundledThread, home: CodexHome, opts: ImportOptions) -> dict[str, Any]:
    row = dict(thread.row)
    primary = next((f for f in thread.files if not f.name.endswith(".zst")), thread.files[0])
    row["rollout_path"] = str(canonical_path(home, primary.name, primary.archived))
    row["archived"] = 1 if primary.archived else 0
    if not primary.archived:
        row["archived_at"] = None
    if opts.to_provider:
        row["model_provider"] = opts.to_provider
    if opts.mappings and isinstance(row.get("cwd"), str):
        row["cwd"] = map_path(row["cwd"], list(opts.mappings), opts.from_style) or row["cwd"]
    return row


def _threads_columns(home: CodexHome) -> tuple[set[str], set[str]]:
    """This home's `threads` columns, and those NOT NULL without a default (an insert must name them)."""
    assert home.state_db is not None
    conn = connect_ro(str(home.state_db))
    try:
        info = conn.execute("SELECT name, \"notnull\", dflt_value, pk FROM pragma_table_info('threads')").fetchall()
    finally:
        conn.close()
    return {r[0] for r in info}, {r[0] for r in info if r[1] and r[2] is None and not r[3]}


def _history_columns(db: Path) -> dict[str, set[str]]:
    if not db.exists():
        return {}
    conn = connect_ro(str(db))
    try:
        return {table: {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
                for table in ("thread_turns", "thread_history_projection_state")}
    except sqlite3.DatabaseError:
        return {}
    finally:
        conn.close()


def _history_inserts(db: str, tables: dict[str, set[str]], thread: BundledThread) -> list[Effect]:
    effects: list[Effect] = []
    state = thread.history.get("projection_state")
    if state and tables.get("thread_history_projection_state"):
        row = {k: v for k, v in state.items() if k in tables["thread_history_projection_state"]}
        effects.append(RowInsert(db, "thread_history_projection_state", {"thread_id": thread.id}, row))
    for turn in thread.history.get("turns", []):
        if tables.get("thread_turns"):
            row = {k: v for k, v in turn.items() if k in tables["thread_turns"]}
            effects.append(RowInsert(db, "thread_turns", {"thread_id": thread.id, "turn_id": turn["turn_id"]}, row))
    return effects


def _history_deletes(db: str, thread_id: str) -> list[Effect]:
    """--replace: the thread's projection rows here are deleted (whole rows journaled) before the new ones."""
    conn = connect_ro(db)
    try:
        rows = history_rows(conn, thread_id)
    finally:
        conn.close()
    effects: list[Effect] = [RowDelete(db, "thread_turns", {"thread_id": thread_id, "turn_id": t["turn_id"]}, t)
                             for t in rows["turns"]]
    if rows["projection_state"] is not None:
        effects.append(RowDelete(db, "thread_history_projection_state", {"thread_id": thread_id},
                                 rows["projection_state"]))
    return effects


def _replace_effects(home: CodexHome, thread_id: str, row: dict[str, Any] | None, audit: Any,
                     staging: Path) -> list[Effect]:
    """--replace: the thread here goes aside (its files to staging, its row deleted), journaled."""
    effects: list[Effect] = []
    for f in (audit.files if audit is not None else []):
        sha, size = file_digest(f.path)
        effects.append(FileMove(f.path, str(staging / "replaced" / os.path.basename(f.path)), sha, size, f.mtime_ns))
    if row is not None:
        assert home.state_db is not None
        effects.append(RowDelete(str(home.state_db), "threads", {"id": thread_id}, row))
    return effects


def write_staging(staged: list[StagedFile], opts: ImportOptions, guard: PathGuard) -> None:
    """The files, with their mtimes, where the operations move them from. Every staging path and
    every target passes the path guard before the first byte; each file is read again from the
    bundle (checked against its sha256) and created new, never through an existing file or link.
    If anything fails, what was staged is removed again."""
    for item in staged:
        guard.check(item.path)
        guard.check(item.target)
    created: list[Path] = []
    try:
        for item in staged:
            _stage(item, opts, created)
    except BaseException:
        for path in reversed(created):
            with contextlib.suppress(OSError):
                path.rmdir() if path.is_dir() else path.unlink()
        raise


def _stage(item: StagedFile, opts: ImportOptions, created: list[Path]) -> None:
    target = Path(item.path)
    missing = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700)
        created.append(folder)
    chunks = iter([_transform(item.file.read(), item.file.name, opts)]) if item.rewritten else item.file.chunks()
    digest, size = hashlib.sha256(), 0
    faults.point("write", str(target))
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    created.append(target)
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        if not sys.platform.startswith("linux"):  # on Linux the run's syncfs makes them durable
            faults.point("fsync", str(target))
            os.fsync(out.fileno())
    if (digest.hexdigest(), size) != (item.sha256, item.size):
        raise BundleRefused(f"{item.file.name} does not come out as planned when staged; nothing was kept",
                            details={"part": item.file.name, "rule": "changed_since_check"})
    os.utime(target, ns=(item.file.mtime_ns, item.file.mtime_ns))
