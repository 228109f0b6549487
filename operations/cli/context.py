"""What every command resolves first: the Codex home, SQLite home, journal, and services."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from journal.clock import Services, ToolInfo
from journal.effects import Effect, SqlEffect
from journal.errors import Refused
from journal.guard import PathGuard
from journal.store import JournalWriter
from operations.paths import (
    CURRENT_STATE_DB,
    CodexConfig,
    read_config,
    resolve_codex_home,
    resolve_journal,
    resolve_sqlite_home,
)
from operations.safety import refuse_if_damaged, refuse_unless_safe
from operations.shapes import judge_all


def tool_services() -> Services:
    """The system clock and ids, and this tool's name and version for the journal."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        tool_version = version("codex-sessions")
    except PackageNotFoundError:
        tool_version = "unknown"
    return Services(tool=ToolInfo("codex-sessions", tool_version))


# Tests replace this to control the clock and the id source.
make_services: Callable[[], Services] = tool_services


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
        """The databases of this SQLite home, checked before a journal command plans anything."""
        refuse_if_damaged([p for p in (self.sqlite_home / CURRENT_STATE_DB,
                                       self.sqlite_home / "thread_history_1.sqlite") if p.exists()])

    def refuse_if_codex_running(self, effects: Iterable[Effect] = ()) -> None:
        """Before undo, redo, replay or recover writes: Codex not running, databases sound, and
        every table touched of a shape this tool knows."""
        dbs = {self.sqlite_home / CURRENT_STATE_DB}
        dbs |= {Path(e.db) for e in effects if isinstance(e, SqlEffect)}
        refuse_unless_safe(self.codex_home, sorted(dbs))
        problems = [p for verdict in judge_all(sorted(dbs)) for p in verdict.problems]
        if problems:
            raise Refused(f"refusing to write: {'; '.join(problems)}", details={"schema_problems": problems})


@contextlib.contextmanager
def writer_if(apply: bool, journal: Path, services: Services, argv: list[str]) -> Iterator[JournalWriter | None]:
    """With --apply, the journal's lock is taken before anything is planned: a second writer
    is refused at once, naming this run, instead of racing it."""
    if not apply:
        yield None
        return
    with JournalWriter(str(journal), services, argv=argv) as writer:
        yield writer


def locate(codex_home: str | None, journal: str | None) -> Located:
    home = resolve_codex_home(codex_home)
    config = read_config(home) if home.is_dir() else CodexConfig()
    sqlite_home = resolve_sqlite_home(home, config).path
    return Located(home, sqlite_home, resolve_journal(journal, home), config)
