"""Turn a plan into a journaled run, after every safety check, with an online backup first."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journal.clock import Services
from journal.effects import RowDelete, RowInsert, RowUpdate
from journal.errors import Refused
from journal.runner import RunResult, execute_run
from journal.store import JournalWriter
from journal.targets import PathGuard, connect_ro
from operations.home import CodexHome
from operations.repair.common import Plan
from operations.safety import refuse_unless_safe
from operations.schema import StateSchema

BACKUPS = "backups"


@dataclass(frozen=True)
class Backup:
    db: str
    path: str
    sha256: str


def refuse_unwritable(schema: StateSchema | None) -> None:
    if schema is None:
        raise Refused("there is no state database to repair")
    if not schema.writable:
        why = "; ".join(schema.problems) or f"generation {schema.generation} is not the current state_5"
        raise Refused(f"refusing to write: {why}")


def databases_in(plan: Plan, home: CodexHome) -> list[Path]:
    dbs = {Path(e.db) for op in plan.ops for e in op.effects if isinstance(e, RowUpdate | RowInsert | RowDelete)}
    if home.state_db:
        dbs.add(home.state_db)
    return sorted(dbs)


def online_backup(db: Path, folder: Path, stamp: str) -> Backup:
    """A consistent copy through SQLite's backup API (the WAL included), never a file copy."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / f"{stamp}-{db.name}"
    source = connect_ro(str(db))
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    os.chmod(target, 0o600)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    return Backup(str(db), str(target), digest)


def apply_plan(
    plan: Plan,
    home: CodexHome,
    schema: StateSchema | None,
    journal: Path,
    services: Services,
    *,
    argv: Sequence[str],
    filters: dict[str, Any],
    progress: Callable[[int, int], None] | None = None,
) -> tuple[RunResult, list[Backup]]:
    refuse_unwritable(schema)
    dbs = databases_in(plan, home)
    refuse_unless_safe(home.codex_home, dbs)
    with JournalWriter(str(journal), services) as writer:
        stamp = services.clock.now().strftime("%Y%m%dT%H%M%S") + "-" + services.ids.new_id()[-8:]
        backups = [online_backup(db, journal.parent / BACKUPS, stamp) for db in dbs]
        meta = {"operation": plan.operation, "options": plan.options, "filters": filters,
                "codex_home": str(home.codex_home), "state_db": str(home.state_db),
                "schema": {"max_migration": schema.max_migration if schema else None},
                "backups": [b.__dict__ for b in backups], "refused": [r.__dict__ for r in plan.refused]}
        result = execute_run(writer, f"run {plan.operation}", plan.ops, argv=argv, meta=meta,
                             guard=PathGuard(home.roots), progress=progress)
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
