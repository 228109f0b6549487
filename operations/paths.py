"""Where things are: the Codex home, its SQLite home, config.toml and our journal.

Resolution follows Codex itself: `--codex-home`, else `$CODEX_HOME`, else `~/.codex`;
SQLite home from config `sqlite_home`, else `$CODEX_SQLITE_HOME`, else the Codex home.
"""

from __future__ import annotations

import functools
import ntpath
import os
import posixpath
import stat
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journal.errors import UsageProblem
from journal.fileio import open_regular
from operations.pathrules import PathKey, is_windows_spelling, key

JOURNAL_ENV = "CODEX_SESSIONS_JOURNAL"
MAX_CONFIG_BYTES = 16 << 20  # a config.toml is a few KB; more is not a config to trust whole
STATE_DB_NAMES = ("state_5.sqlite", "state_4.sqlite", "state_2.sqlite", "state.sqlite")
CURRENT_STATE_DB = "state_5.sqlite"


@dataclass(frozen=True)
class CodexConfig:
    """The parts of config.toml that decide which sessions are listed."""

    model_provider: str = "openai"
    model_provider_explicit: bool = False
    providers: tuple[str, ...] = ()
    sqlite_home: str | None = None
    error: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


BUILTIN_PROVIDERS = ("openai", "amazon-bedrock", "ollama", "lmstudio")
# A config.toml with a [model_providers.<one of these>] table is refused by Codex 0.128 to 0.171
# ("reserved built-in provider IDs"; checked against the binaries): the CLI exits 1, and the
# app-server runs with the defaults, so it lists the `openai` provider's sessions only.
RESERVED_PROVIDER_IDS = ("openai", "ollama", "lmstudio")


def read_config(codex_home: Path) -> CodexConfig:
    path = codex_home / "config.toml"
    if not path.exists():
        return CodexConfig()
    try:
        with open_regular(path) as handle:  # a FIFO named config.toml must not hang a read-only audit
            raw = handle.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            return CodexConfig(error=f"cannot read {path}: larger than {MAX_CONFIG_BYTES >> 20} MB")
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        return CodexConfig(error=f"cannot read {path}: {exc}")
    providers = data.get("model_providers") or {}
    reserved = sorted(p for p in providers if p in RESERVED_PROVIDER_IDS)
    if reserved:  # as Codex: the whole file is refused, and the defaults apply
        names = ", ".join(f"`{p}`" for p in reserved)
        return CodexConfig(error=(
            f"Codex refuses {path}: model_providers contains reserved built-in provider IDs ({names}); the CLI "
            "exits with that error and the app-server runs with the defaults, listing only `openai` sessions. "
            f"Rename the table (for example [model_providers.{reserved[0]}-custom]) and point model_provider at it"),
            raw=data)
    provider = data.get("model_provider")
    return CodexConfig(
        model_provider=str(provider) if provider else "openai",
        model_provider_explicit=provider is not None,
        providers=tuple(sorted(p for p in providers if isinstance(providers.get(p), dict))),
        sqlite_home=data.get("sqlite_home"),
        raw=data,
    )


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


ROLLOUT_FOLDERS = ("/sessions/", "/archived_sessions/", "\\sessions\\", "\\archived_sessions\\")
# How this machine's paths compare: Windows paths by components, casefolded, `\\?\` ignored
PATH_STYLE = "windows" if sys.platform == "win32" else "posix"


def home_of_rollout(rollout_path: str) -> str | None:
    """The Codex home a rollout path lies in: the part before sessions/ or archived_sessions/
    (either separator: rows written by Codex on Windows hold `C:\\Users\\…\\.codex\\sessions\\…`)."""
    at = min((rollout_path.find(m) for m in ROLLOUT_FOLDERS if m in rollout_path), default=-1)
    return rollout_path[:at] if at > 0 else None


def is_inside(path: str, roots: Iterable[str | Path], style: str = PATH_STYLE) -> bool:
    """Whether `path` is one of `roots` or below one, by components (never a string prefix).

    An absolute POSIX path against POSIX roots compares as normalized text up to a separator,
    which is the same test, without building component keys (the audit asks once per row)."""
    texts = [str(root) for root in roots]
    if style == "posix" and path.startswith("/") and not path.startswith("//") and all(
            t.startswith("/") and not t.startswith("//") and posixpath.normpath(t) == t for t in texts):
        text = posixpath.normpath(path)
        return any(text == t or text.startswith(t.rstrip("/") + "/") for t in texts)
    here = key(posixpath.abspath(path) if style == "posix" else ntpath.normpath(path), style)
    return any(here.startswith(_root_key(t, style)) for t in texts)


@functools.lru_cache(maxsize=256)
def _root_key(root: str, style: str) -> PathKey:
    return key(root, style)


def same_path(a: str, b: str, style: str = PATH_STYLE) -> bool:
    return key(a, style) == key(b, style)


def spelled_like(new: str, model: str, style: str = PATH_STYLE) -> str:
    """`new` written in the spelling of the row it replaces (`model`): when both lie in the same
    home, the home part is taken from the row exactly (`\\\\?\\C:\\…`, drive and folder case, its
    separator), so a row is never respelled beyond what had to change."""
    old_home = home_of_rollout(model)
    if old_home is None:
        return new
    prefix = key(old_home, style)
    here = key(new, style)
    if not here.startswith(prefix):
        return new
    sep = "\\" if is_windows_spelling(old_home) or old_home.startswith("\\\\") else "/"
    rest = here.spelled[len(prefix.parts):]
    return old_home.rstrip("\\/") + sep + sep.join(rest)
