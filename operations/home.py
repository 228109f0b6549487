"""A Codex home as every command sees it: its config, its SQLite home, which state database,
what is stale, where our journal is, and the roots writes must stay inside."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from journal.errors import UsageProblem
from journal.guard import PathGuard
from journal.sqlio import SQLITE_ERRORS, connect_ro
from operations.codex_config import CodexConfig, read_config
from operations.locations import (
    CURRENT_STATE_DB,
    STATE_DB_NAMES,
    require_home,
    resolve_codex_home,
    resolve_journal,
    resolve_sqlite_home,
)


@dataclass(frozen=True)
class DbCandidate:
    path: str
    threads: int | None  # row count, None when unreadable


@dataclass(frozen=True)
class CodexHome:
    codex_home: Path
    config: CodexConfig
    sqlite_home: Path
    sqlite_home_source: str
    state_db: Path | None
    candidates: tuple[DbCandidate, ...] = ()
    stale_dbs: tuple[str, ...] = ()
    journal_option: str | None = None  # --journal, when given

    @property
    def roots(self) -> tuple[Path, ...]:
        return (self.codex_home, self.sqlite_home)

    def guard(self) -> PathGuard:
        """Writes stay inside the Codex home and its SQLite home."""
        return PathGuard(self.roots)

    @cached_property
    def journal(self) -> Path:
        """Our journal: `--journal`, else $CODEX_SESSIONS_JOURNAL, else inside the home. Resolved when
        first asked, so a command that never touches the journal never fails on a bad one."""
        return resolve_journal(self.journal_option, self.codex_home)

    @property
    def thread_history_db(self) -> Path | None:
        path = self.sqlite_home / "thread_history_1.sqlite"
        return path if path.exists() else None

    @property
    def databases(self) -> list[Path]:
        """Every database a write may touch that exists: the state and the thread history."""
        return [p for p in (self.state_db, self.thread_history_db) if p is not None and p.exists()]


def _count_threads(path: Path) -> int | None:
    try:
        conn = connect_ro(str(path))
        try:
            return int(conn.execute("SELECT COUNT(*) FROM threads").fetchone()[0])
        finally:
            conn.close()
    except SQLITE_ERRORS:
        return None


def discover(codex_home: Path, db_override: str | None = None, *, journal: str | None = None) -> CodexHome:
    require_home(codex_home)
    config = read_config(codex_home)
    sqlite_home = resolve_sqlite_home(codex_home, config)
    if db_override:
        chosen = Path(db_override).expanduser().absolute()
        if not chosen.exists():
            raise UsageProblem(f"--db {chosen} does not exist")
        return CodexHome(codex_home, config, sqlite_home.path, "option", chosen,
                         (DbCandidate(str(chosen), _count_threads(chosen)),), (), journal)
    places = [sqlite_home.path]
    if sqlite_home.source == "codex_home" and (codex_home / "sqlite").is_dir():
        places.append(codex_home / "sqlite")
    current = [p / CURRENT_STATE_DB for p in places if (p / CURRENT_STATE_DB).exists()]
    candidates = tuple(DbCandidate(str(p), _count_threads(p)) for p in current)
    if len(current) > 1:
        listing = "; ".join(f"{c.path} ({c.threads} threads)" for c in candidates)
        raise UsageProblem(
            f"two candidate state databases exist: {listing}. Codex uses the one in its SQLite home "
            "(config `sqlite_home`, else $CODEX_SQLITE_HOME, else the Codex home); "
            "say which with --db PATH",
            details={"candidates": [c.__dict__ for c in candidates]},
        )
    older = [p / name for p in places for name in STATE_DB_NAMES[1:] if (p / name).exists()]
    if current:
        return CodexHome(codex_home, config, sqlite_home.path, sqlite_home.source, current[0], candidates,
                         tuple(str(p) for p in older), journal)
    if older:  # an old Codex (state.sqlite … state_4.sqlite): audit the newest generation there
        newest = older[0]
        return CodexHome(codex_home, config, sqlite_home.path, sqlite_home.source, newest,
                         (DbCandidate(str(newest), _count_threads(newest)),), tuple(str(p) for p in older[1:]),
                         journal)
    markers = ("sessions", "archived_sessions", "config.toml", "history.jsonl", "session_index.jsonl")
    if not any((codex_home / m).exists() for m in markers):
        raise UsageProblem(
            f"{codex_home} is not a Codex home: it has no state database ({CURRENT_STATE_DB}), no sessions/, no "
            "config.toml. Codex keeps its home in ~/.codex (%USERPROFILE%\\.codex on Windows) unless CODEX_HOME "
            "says otherwise; pass that folder with --codex-home")
    return CodexHome(codex_home, config, sqlite_home.path, sqlite_home.source, None, (), (), journal)


def locate(codex_home: str | None, journal: str | None) -> CodexHome:
    """The home as the journal commands need it, which may not exist yet (a journal handed over, a
    home not made): no state database is chosen beyond the one Codex would use."""
    home = resolve_codex_home(codex_home)
    config = read_config(home) if home.is_dir() else CodexConfig()
    sqlite_home = resolve_sqlite_home(home, config)
    state = sqlite_home.path / CURRENT_STATE_DB
    located = CodexHome(home, config, sqlite_home.path, sqlite_home.source, state if state.exists() else None,
                        journal_option=journal)
    located.journal  # noqa: B018 - a bad --journal is said before anything is read
    return located
