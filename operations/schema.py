"""What a state database is: its generation, its `threads` columns, its migration level,
and whether the shapes of the tables this tool touches allow writes (operations/shapes.py).

Codex's schema version lives in sqlx's `_sqlx_migrations`, not in `user_version`. The
levels below were captured from the real binaries (fixtures/schemas/).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from journal.errors import ToolError, UsageProblem, io_failure, io_problem
from journal.sqlio import SQLITE_ERRORS, connect_ro
from operations.shapes import judge, known_shapes

# highest applied state migration -> the Codex releases that ship it (storage doc, section 7)
VERSION_BY_MIGRATION = {
    3: "0.94", 4: "0.95", 6: "0.97-0.98", 8: "0.99-0.100", 17: "0.105", 18: "0.113", 24: "0.119",
    25: "0.121", 26: "0.123", 27: "0.124", 28: "0.125", 29: "0.126-0.128", 30: "0.129", 31: "0.130",
    32: "0.131", 33: "0.132", 34: "0.133-0.134", 35: "0.135-0.139", 37: "0.140-0.141", 39: "0.142",
    40: "0.143-0.144", 62: "0.169", 64: "0.171",
}
REQUIRED_COLUMNS = ("id", "rollout_path", "created_at", "updated_at", "source", "model_provider", "cwd", "title",
                    "archived", "archived_at")


class DatabaseDamaged(ToolError):
    """SQLite cannot read the database; nothing is written, Codex's own recovery should run."""

    code = "database_damaged"


# What Codex itself does with a database it cannot use (codex-rs state/src/runtime/recovery.rs,
# storage doc section 7): at its next start it moves the file and its -wal/-shm to
# db-backups/sqlite-<time>-<n>/ and rebuilds the database from the rollout files.
RECOVERY_ADVICE = ("Let Codex recover it: start Codex once (the CLI or the app); it moves a "
                   "damaged database and its -wal/-shm to db-backups/ in its SQLite home and rebuilds the database "
                   "from the rollout files. Then run this again. (To look at a copy instead, pass --db PATH.)")


def damaged(db: Path | str, exc: Exception | str) -> ToolError:
    """Why `db` cannot be read: the disk saying no (`io_error`: space, I/O, permission) is not
    damage, and Codex's recovery would not help; anything else is `database_damaged`."""
    if isinstance(exc, BaseException) and io_problem(exc):
        return io_failure(exc, f"reading {db}", "Nothing was changed; free space (or fix the disk), then run the "
                          "command again")
    return DatabaseDamaged(f"cannot read {db}: {exc}. It looks damaged; nothing was changed. {RECOVERY_ADVICE}",
                           details={"database": str(db), "advice": RECOVERY_ADVICE})


@dataclass(frozen=True)
class StateSchema:
    path: str
    generation: str  # state, state_2, state_4, state_5
    columns: tuple[str, ...]
    max_migration: int | None
    migration_count: int
    codex_version_guess: str
    known: bool  # every migration applied is one this tool has seen in a real Codex release
    problems: tuple[str, ...] = ()  # each one refuses writes
    warnings: tuple[str, ...] = ()  # e.g. a newer migration whose touched tables all have known shapes

    def has(self, column: str) -> bool:
        return column in self.columns

    @property
    def writable(self) -> bool:
        """Writes need the current generation and known shapes for every table they touch."""
        return not self.problems and self.generation == "state_5"


def generation_of(path: Path) -> str:
    return path.name.removesuffix(".sqlite")


def inspect_state_db(path: Path) -> StateSchema:
    """Read-only look at the schema; DatabaseDamaged when SQLite cannot read it or it is not Codex's."""
    if not path.exists():
        raise UsageProblem(f"no state database at {path}")
    try:
        conn = connect_ro(str(path))
    except SQLITE_ERRORS as exc:
        raise damaged(path, exc) from None
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "threads" not in tables:
            raise damaged(path, "it has no `threads` table, so it is not a Codex state database")
        columns = tuple(r[1] for r in conn.execute("PRAGMA table_info(threads)"))
        max_migration: int | None = None
        count = 0
        if "_sqlx_migrations" in tables:
            row = conn.execute("SELECT MAX(version), COUNT(*) FROM _sqlx_migrations WHERE success = 1").fetchone()
            max_migration, count = row[0], row[1]
            if max_migration is not None and not isinstance(max_migration, int):
                raise damaged(path, f"_sqlx_migrations holds a version {max_migration!r} that is not a number")
        verdict = judge(path.with_name("state_5.sqlite"), conn) if generation_of(path) == "state_5" else None
    except SQLITE_ERRORS as exc:
        raise damaged(path, exc) from None
    finally:
        conn.close()
    problems = [f"`threads` lacks column {c}" for c in REQUIRED_COLUMNS if c not in columns]
    problems += verdict.problems if verdict else ()
    known = max_migration is not None and max_migration <= newest_known_migration()
    guess = _guess(max_migration)
    return StateSchema(str(path), generation_of(path), columns, max_migration, count, guess, known, tuple(problems),
                       verdict.warnings if verdict else ())


def newest_known_migration() -> int:
    """The newest state migration seen in a real Codex release (known_shapes.json)."""
    return int(known_shapes()["databases"]["state_5.sqlite"]["max_migration"])


def _guess(max_migration: int | None) -> str:
    if max_migration is None:
        return "unknown (no _sqlx_migrations)"
    if max_migration in VERSION_BY_MIGRATION:
        return VERSION_BY_MIGRATION[max_migration]
    lower = [m for m in VERSION_BY_MIGRATION if m < max_migration]
    if max_migration > newest_known_migration():
        return f"newer than {known_shapes()['sources'][-1]} (migration {max_migration})"
    return f"after {VERSION_BY_MIGRATION[max(lower)]}" if lower else "unknown"
