"""Where things are: the Codex home, its SQLite home and our journal.

Resolution follows Codex itself: `--codex-home`, else `$CODEX_HOME`, else `~/.codex`;
SQLite home from config `sqlite_home`, else `$CODEX_SQLITE_HOME`, else the Codex home.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from journal.errors import UsageProblem
from operations.codex_config import CodexConfig

JOURNAL_ENV = "CODEX_SESSIONS_JOURNAL"
STATE_DB_NAMES = ("state_5.sqlite", "state_4.sqlite", "state_2.sqlite", "state.sqlite")
CURRENT_STATE_DB = "state_5.sqlite"


def resolve_codex_home(option: str | None, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if option:
        return Path(option).expanduser().absolute()
    if env.get("CODEX_HOME"):
        return Path(env["CODEX_HOME"]).expanduser().absolute()
    return Path.home() / ".codex"


@dataclass(frozen=True)
class SqliteHome:
    path: Path
    source: str  # config, env, codex_home


def resolve_sqlite_home(codex_home: Path, config: CodexConfig, env: Mapping[str, str] | None = None) -> SqliteHome:
    env = os.environ if env is None else env
    if config.sqlite_home:
        value = Path(config.sqlite_home).expanduser()
        return SqliteHome(value if value.is_absolute() else codex_home / value, "config")
    if env.get("CODEX_SQLITE_HOME"):
        return SqliteHome(Path(env["CODEX_SQLITE_HOME"]).expanduser().absolute(), "env")
    return SqliteHome(codex_home, "codex_home")


def resolve_journal(option: str | None, codex_home: Path, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if option:
        return journal_file(Path(option).expanduser().absolute(), "--journal")
    if env.get(JOURNAL_ENV):
        return journal_file(Path(env[JOURNAL_ENV]).expanduser().absolute(), f"${JOURNAL_ENV}")
    return journal_file(codex_home / "codex-sessions" / "journal.jsonl", "the journal")


def journal_file(path: Path, named: str) -> Path:
    """The journal is a file (or not there yet, in a folder that can hold it): a folder, a FIFO
    or a path through a file is a usage error here, not a traceback later."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # the folders below say which part is wrong
        mode = None
    except OSError as exc:
        raise UsageProblem(f"{named} {path} cannot be used: {exc.strerror or exc}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise UsageProblem(f"{named} {path} is a folder; it names the journal file, e.g. {path / 'journal.jsonl'}")
    if mode is not None and not stat.S_ISREG(mode):
        raise UsageProblem(f"{named} {path} is not a regular file; it names the journal file")
    for folder in path.parents:
        if folder.exists():
            if not folder.is_dir():
                raise UsageProblem(f"{named} {path} cannot be created: {folder} is not a folder")
            break
    return path


def require_home(codex_home: Path) -> None:
    if not codex_home.is_dir():
        raise UsageProblem(
            f"no Codex home at {codex_home}; pass --codex-home or set CODEX_HOME "
            "(try the bundled sample: --codex-home fixtures/sample-home)"
        )
