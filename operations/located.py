"""A Codex home as the journal commands see it: its SQLite home, the journal, and the checks
that gate a write there (the allowed roots, databases sound, Codex not running, known shapes)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from journal.effects import Effect, SqlEffect
from journal.guard import PathGuard
from operations.desktop.statefile import writes_state_file
from operations.errors import UnknownShape
from operations.paths import (
    CURRENT_STATE_DB,
    CodexConfig,
    read_config,
    resolve_codex_home,
    resolve_journal,
    resolve_sqlite_home,
)
from operations.safety import refuse_if_damaged, refuse_if_desktop_app_running, refuse_unless_safe
from operations.schema import inspect_state_db
from operations.shapes import judge_all


@dataclass(frozen=True)
class Located:
    codex_home: Path
    sqlite_home: Path
    journal: Path
    config: CodexConfig

    def guard(self) -> PathGuard:
        """Writes stay inside the Codex home and its SQLite home."""
        return PathGuard([self.codex_home, self.sqlite_home])

    def refuse_if_damaged(self) -> None:
        """The databases of this SQLite home, checked before a journal command plans anything: the
        same error as every other command meets (a state database with no `threads` is damaged too)."""
        state = self.sqlite_home / CURRENT_STATE_DB
        refuse_if_damaged([p for p in (state, self.sqlite_home / "thread_history_1.sqlite") if p.exists()])
        if state.exists():
            inspect_state_db(state)

    def refuse_if_codex_running(self, effects: Iterable[Effect] = ()) -> None:
        """Before undo, redo, replay or recover writes: Codex not running, databases sound, and
        every table touched of a shape this tool knows."""
        effects = list(effects)
        dbs = {self.sqlite_home / CURRENT_STATE_DB}
        dbs |= {Path(db) for db in {e.db for e in effects if isinstance(e, SqlEffect)}}
        refuse_unless_safe(self.codex_home, sorted(dbs))
        if writes_state_file(effects):  # issue 22: the desktop app writes its file back from memory
            refuse_if_desktop_app_running()
        problems = [p for verdict in judge_all(sorted(dbs)) for p in verdict.problems]
        if problems:
            raise UnknownShape(f"refusing to write: {'; '.join(problems)}", details={"schema_problems": problems})


def locate(codex_home: str | None, journal: str | None) -> Located:
    home = resolve_codex_home(codex_home)
    config = read_config(home) if home.is_dir() else CodexConfig()
    sqlite_home = resolve_sqlite_home(home, config).path
    return Located(home, sqlite_home, resolve_journal(journal, home), config)
