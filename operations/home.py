"""Discover a Codex home as it is: config, SQLite home, which state database, what is stale."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from journal.errors import UsageProblem
from journal.sqlio import SQLITE_ERRORS, connect_ro
from operations.paths import (
    CURRENT_STATE_DB,
    STATE_DB_NAMES,
    CodexConfig,
    read_config,
    require_home,
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
    candidates: tuple[DbCandidate, ...]
    stale_dbs: tuple[str, ...]

    @property
    def roots(self) -> tuple[Path, ...]:
        return (self.codex_home, self.sqlite_home)

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


def discover(codex_home: Path, db_override: str | None = None) -> CodexHome:
    require_home(codex_home)
    config = read_config(codex_home)
    sqlite_home = resolve_sqlite_home(codex_home, config)
    if db_override:
        chosen = Path(db_override).expanduser().absolute()
        if not chosen.exists():
            raise UsageProblem(f"--db {chosen} does not exist")
        return CodexHome(codex_home, config, sqlite_home.path, "option", chosen,
                         (DbCandidate(str(chosen), _count_threads(chosen)),), ())
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
                         tuple(str(p) for p in older))
    if older:  # an old Codex (state.sqlite … state_4.sqlite): audit the newest generation there
        newest = older[0]
        return CodexHome(codex_home, config, sqlite_home.path, sqlite_home.source, newest,
                         (DbCandidate(str(newest), _count_threads(newest)),), tuple(str(p) for p in older[1:]))
    markers = ("sessions", "archived_sessions", "config.toml", "history.jsonl", "session_index.jsonl")
    if not any((codex_home / m).exists() for m in markers):
        raise UsageProblem(
            f"{codex_home} is not a Codex home: it has no state database ({CURRENT_STATE_DB}), no sessions/, no "
            "config.toml. Codex keeps its home in ~/.codex (%USERPROFILE%\\.codex on Windows) unless CODEX_HOME "
            "says otherwise; pass that folder with --codex-home")
    return CodexHome(codex_home, config, sqlite_home.path, sqlite_home.source, None, (), ())
