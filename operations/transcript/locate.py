"""Find one thread in a Codex home by id or unique prefix, wherever Codex keeps or hides it.

Every thread counts: rows of `threads` (whatever their provider or archived flag) and every
rollout file under `sessions/` and `archived_sessions/`, with or without a row (orphans). Only
file names are listed here; nothing is read but the rows' ids and paths.
"""

from __future__ import annotations

import os
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journal.errors import NotFound, UsageProblem
from journal.sqlio import connect_ro
from operations.home import CodexHome
from operations.path_spelling import is_inside
from operations.rollouts import iter_rollout_paths, parse_name
from operations.schema import damaged
from operations.threads import full_row

MAX_CANDIDATES = 20


@dataclass(frozen=True, slots=True)
class RolloutFile:
    path: str
    location: str  # dated, flat, misplaced, archived, archived_nested, outside_home

    @property
    def compressed(self) -> bool:
        return self.path.endswith(".zst")


@dataclass(slots=True)
class HomeIndex:
    codex_home: Path
    state_db: Path | None
    row_paths: dict[str, str]  # thread id (lower case) -> rollout_path of its row
    files: dict[str, list[RolloutFile]] = field(default_factory=dict)
    row_keys: dict[str, str] = field(default_factory=dict)  # lower case -> the id as the row spells it

    def ids(self) -> list[str]:
        return sorted(set(self.row_paths) | set(self.files))

    def row(self, thread_id: str) -> dict[str, Any] | None:
        if self.state_db is None or thread_id not in self.row_paths:
            return None
        try:
            return full_row(self.state_db, self.row_keys.get(thread_id, thread_id))
        except sqlite3.DatabaseError as exc:
            raise damaged(self.state_db, exc) from None

    def rollout(self, thread_id: str) -> RolloutFile | None:
        """The file to read: the row's path (or its `.zst`) when it lies in this home; else a file
        named with the id, the plain one before the compressed one (as Codex prefers), `sessions/`
        before the archive; else, for a copied home, the row's path in the other home."""
        row_path = self.row_paths.get(thread_id)
        found = self.files.get(thread_id, [])
        candidates = [row_path, row_path + ".zst"] if row_path else []
        for candidate in candidates:
            known = next((f for f in found if f.path == candidate), None)
            if known is not None and os.path.isfile(candidate):
                return known
        ranked = sorted(found, key=lambda f: (f.compressed, f.location.startswith("archived"), f.path))
        if ranked:
            return ranked[0]
        for candidate in candidates:
            if os.path.isfile(candidate):
                inside = is_inside(candidate, [self.codex_home])
                return RolloutFile(candidate, "misplaced" if inside else "outside_home")
        return None


def index_home(home: CodexHome) -> HomeIndex:
    rows: dict[str, str] = {}
    keys: dict[str, str] = {}
    if home.state_db is not None and home.state_db.exists():
        try:
            conn = connect_ro(str(home.state_db))
            conn.text_factory = lambda b: b.decode("utf-8", "replace")
            try:
                for thread_id, rollout_path in conn.execute("SELECT id, rollout_path FROM threads"):
                    rows[str(thread_id).lower()] = str(rollout_path or "")
                    keys[str(thread_id).lower()] = str(thread_id)
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise damaged(home.state_db, exc) from None
    files: dict[str, list[RolloutFile]] = defaultdict(list)
    for path, location in iter_rollout_paths(home.codex_home):
        thread_id, _date = parse_name(os.path.basename(path))
        if thread_id:
            files[thread_id].append(RolloutFile(path, location))
    return HomeIndex(home.codex_home, home.state_db, rows, dict(files), keys)


def resolve(index: HomeIndex, ref: str) -> str:
    """The one thread id `ref` names (an id or a unique prefix, any case); otherwise a usage error
    listing the candidates."""
    wanted = ref.strip().lower()
    ids = index.ids()
    if wanted in ids:
        return wanted
    matches = [i for i in ids if i.startswith(wanted)] if wanted else []
    if len(matches) == 1:
        return matches[0]
    if not wanted:
        listing = _newest(index, ids)
        raise UsageProblem(f"name a thread (an id or a unique prefix); the newest in {index.codex_home}: "
                           + (", ".join(listing) or "none"), details={"candidates": listing})
    if not matches:
        raise NotFound(f"no thread {ref!r} in {index.codex_home} (neither a row nor a rollout file)")
    shown = _newest(index, matches)
    more = f" and {len(matches) - len(shown)} more" if len(matches) > len(shown) else ""
    raise UsageProblem(f"{ref!r} names {len(matches)} threads: {', '.join(shown)}{more}; give more of the id",
                       details={"candidates": shown, "count": len(matches)})


def _newest(index: HomeIndex, ids: list[str]) -> list[str]:
    """Up to MAX_CANDIDATES ids, newest first (thread ids are UUIDv7, so they sort by time; the file
    name's timestamp is used for older ids)."""
    def when(thread_id: str) -> str:
        files = index.files.get(thread_id) or []
        return max((os.path.basename(f.path)[8:27] for f in files), default="") or thread_id

    return sorted(ids, key=when, reverse=True)[:MAX_CANDIDATES]
