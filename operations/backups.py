"""Online backups of the databases a run touches (SQLite's backup API, never a file copy), kept
beside the journal; undo never depends on them, and `prune` removes old sets."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from journal import faults
from journal.clock import Services
from journal.errors import io_failure, io_problem
from journal.sqlio import connect_ro

BACKUPS = "backups"


@dataclass(frozen=True)
class Backup:
    db: str
    path: str
    sha256: str


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


def take_backups(dbs: Sequence[Path], journal: Path, services: Services) -> list[Backup]:
    """One backup set: each existing database, under one stamp, in the journal's folder."""
    stamp = services.clock.now().strftime("%Y%m%dT%H%M%S") + "-" + services.ids.new_id()[-8:]
    return [online_backup(db, journal.parent / BACKUPS, stamp) for db in dbs if db.exists()]


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
