"""Turn a plan into a journaled run, after every safety check, with an online backup first."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journal import faults
from journal.clock import Services
from journal.effects import SqlEffect
from journal.errors import Refused, io_failure, io_problem
from journal.guard import PathGuard
from journal.runner import PlannedOp, RunResult, execute_phased_run
from journal.sqlio import SQLITE_ERRORS, connect_ro
from journal.store import JournalWriter
from operations.desktop.statefile import writes_state_file
from operations.errors import UnknownShape
from operations.home import CodexHome
from operations.repair.plan import Plan
from operations.safety import refuse_if_damaged, refuse_if_desktop_app_running, refuse_unless_safe
from operations.schema import StateSchema, damaged
from operations.shapes import judge_all

BACKUPS = "backups"


@dataclass(frozen=True)
class Backup:
    db: str
    path: str
    sha256: str


def shape_verdicts(schema: StateSchema | None, dbs: Sequence[Path] = ()) -> tuple[list[str], list[str]]:
    """(problems, warnings) of the state database and every other database a write touches."""
    if schema is None:
        return ["there is no state database to repair"], []
    problems, warnings = list(schema.problems), list(schema.warnings)
    if not problems and schema.generation != "state_5":
        problems.append(f"generation {schema.generation} is not the current state_5")
    for db in dbs:
        if db.name == "state_5.sqlite":
            continue  # judged with `schema`
        try:
            verdicts = judge_all([db])
        except SQLITE_ERRORS as exc:
            raise damaged(db, exc) from None
        for verdict in verdicts:
            problems += verdict.problems
            warnings += verdict.warnings
    return problems, warnings


def refuse_unwritable(schema: StateSchema | None, dbs: Sequence[Path] = ()) -> None:
    """Refuse (nothing changed) unless every table the write touches has a shape this tool knows."""
    problems, _ = shape_verdicts(schema, dbs)
    if problems:
        raise UnknownShape(f"refusing to write: {'; '.join(problems)}", details={"schema_problems": problems})


def preflight(plan: Plan, home: CodexHome, schema: StateSchema | None) -> list[str]:
    """Why `--apply` would be refused right now (the same checks, collected instead of raised),
    so that a dry run can say so at its top."""
    dbs = databases_in(plan, home)
    reasons = []
    try:
        refuse_unwritable(schema, dbs)
    except Refused as exc:
        reasons.append(str(exc))
    try:
        refuse_unless_safe(home.codex_home, dbs)
        if writes_state_file([e for op in plan.ops for e in op.effects]):  # issue 22: the app's own file
            refuse_if_desktop_app_running()
    except Refused as exc:
        reasons.append(str(exc))
    return reasons


def databases_in(plan: Plan, home: CodexHome) -> list[Path]:
    dbs = {Path(db) for db in {e.db for op in plan.ops for e in op.effects if isinstance(e, SqlEffect)}}
    if home.state_db:
        dbs.add(home.state_db)
    return sorted(dbs)


def online_backup(db: Path, folder: Path, stamp: str) -> Backup:
    """A consistent copy through SQLite's backup API (the WAL included), never a file copy. A
    disk that refuses it stops the command before anything is changed (the partial copy is
    removed)."""
    target = folder / f"{stamp}-{db.name}"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        source = connect_ro(str(db))
        copy = sqlite3.connect(target)
        try:
            faults.point("backup", str(target))
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        os.chmod(target, 0o600)
    except (OSError, sqlite3.Error) as exc:
        if not io_problem(exc):
            raise
        with contextlib.suppress(OSError):
            target.unlink(missing_ok=True)
        raise io_failure(exc, f"backing up {db} to", "Nothing was changed; free space (or fix the disk) in "
                         f"{folder}, then run the command again") from None
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    return Backup(str(db), str(target), digest)


def apply_plan(
    plan: Plan,
    home: CodexHome,
    schema: StateSchema | None,
    writer: JournalWriter,
    services: Services,
    *,
    argv: Sequence[str],
    filters: dict[str, Any],
    progress: Callable[[int, int], None] | None = None,
) -> tuple[RunResult, list[Backup]]:
    """Check, back up, then execute one operation's plan as one run."""
    meta = {"operation": plan.operation, "options": plan.options, "filters": filters,
            "refused": [r.__dict__ for r in plan.refused]}
    return apply_phases([lambda: plan.ops], databases_in(plan, home), home, schema, writer, services,
                        command=f"run {plan.operation}", argv=argv, meta=meta, progress=progress,
                        desktop_files=writes_state_file([e for op in plan.ops for e in op.effects]))


def apply_phases(
    phases: Sequence[Callable[[], Sequence[PlannedOp]]],
    dbs: list[Path],
    home: CodexHome,
    schema: StateSchema | None,
    writer: JournalWriter,
    services: Services,
    *,
    command: str,
    argv: Sequence[str],
    meta: dict[str, Any],
    progress: Callable[[int, int], None] | None = None,
    desktop_files: bool = False,
) -> tuple[RunResult, list[Backup]]:
    """Every safety check, an online backup of each database, then one journaled run (the
    caller holds the journal's lock since before it planned). `desktop_files`: a phase may write
    the desktop app's state file, so no copy of the app may run (issue 22)."""
    refuse_unwritable(schema, dbs)
    refuse_unless_safe(home.codex_home, dbs)
    refuse_if_damaged(home.databases)  # every database of the home, as undo and redo check them
    if desktop_files:
        refuse_if_desktop_app_running()
    journal = Path(writer.path)
    stamp = services.clock.now().strftime("%Y%m%dT%H%M%S") + "-" + services.ids.new_id()[-8:]
    backups = [online_backup(db, journal.parent / BACKUPS, stamp) for db in dbs if db.exists()]
    meta = {**meta, "codex_home": str(home.codex_home), "state_db": str(home.state_db),
            "schema": {"max_migration": schema.max_migration if schema else None},
            "backups": [b.__dict__ for b in backups]}
    result = execute_phased_run(writer, command, phases, argv=argv, meta=meta, guard=PathGuard(home.roots),
                                progress=progress)
    return result, backups


def prune_backups(journal: Path, keep: int) -> tuple[list[str], list[str]]:
    """Delete all but the newest `keep` backup sets; undo never needs them."""
    folder = journal.parent / BACKUPS
    if not folder.is_dir():
        return [], []
    stamps = sorted({p.name.split("-state", 1)[0].split("-thread", 1)[0] for p in folder.iterdir()}, reverse=True)
    kept, removed = stamps[:keep], []
    for path in sorted(folder.iterdir()):
        if not any(path.name.startswith(s) for s in kept):
            path.unlink()
            removed.append(str(path))
    return kept, removed
