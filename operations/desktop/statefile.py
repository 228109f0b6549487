"""The desktop app's `.codex-global-state.json` and its `.bak`: read bounded, judged strictly.

The file is the app's, not Codex's (the npm binary holds none of these strings), and it is
untrusted input: it may be cut short, padded with NUL bytes, huge, or not JSON at all. A
file that cannot be used is a finding with its reason, never a traceback.

Keys and shapes are **reported**, not verified (docs/desktop-layers.md; openai/codex #36663,
#37212, #42739, #42867, #43661; peers' readers): `local-projects`
`{legacyId: {id, name, rootPaths[], createdAt?, updatedAt?}}`, `project-order` `[legacyId]`,
`thread-project-assignments` `{threadId: {projectKind: "local", projectId, cwd?,
pendingCoreUpdate?}}`, `projectless-thread-ids`, `pinned-thread-ids`, `pinned-project-ids`,
`app-server-projects-migration-by-host` `{"local:<home>": {version, projectsMigrated,
threadAssignmentsMigrated, pendingThreadAssignmentIds?}}`,
`app-server-project-id-by-legacy-project-id-by-host` `{"local:<home>": {legacyId: projectId}}`,
`app-server-pending-project-deletions-by-host`, and `electron-persisted-atom-state`, an object
repeating some of them. Reading is lenient (what has a known shape is used); every entry of an
unknown shape is listed in `shape_problems`, and the repairs refuse to write while any is there.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import orjson

from journal.effects import Effect, FileReplace
from operations.path_spelling import is_windows_spelling, same_path

STATE_FILE = ".codex-global-state.json"
BACKUP_SUFFIX = ".bak"
# Reported files are tens of KB to a few MB (the atom state repeats much of the rest); a
# larger one is reported and left alone rather than read into memory.
MAX_STATE_BYTES = 16 * 1024 * 1024

LOCAL_PROJECTS = "local-projects"
PROJECT_ORDER = "project-order"
ASSIGNMENTS = "thread-project-assignments"
PROJECTLESS = "projectless-thread-ids"
PINNED_THREADS = "pinned-thread-ids"
PINNED_PROJECTS = "pinned-project-ids"
MIGRATIONS = "app-server-projects-migration-by-host"
LEGACY_MAP = "app-server-project-id-by-legacy-project-id-by-host"
PENDING_DELETIONS = "app-server-pending-project-deletions-by-host"
ATOM_STATE = "electron-persisted-atom-state"

LOCAL_PROJECT_FIELDS = ("id", "name", "rootPaths", "createdAt", "updatedAt")
ASSIGNMENT_FIELDS = ("projectKind", "projectId", "cwd", "pendingCoreUpdate")
# the keys the rebuild may write (top level, and inside the atom state when it repeats them)
REBUILT_KEYS = (LOCAL_PROJECTS, PROJECT_ORDER, ASSIGNMENTS, LEGACY_MAP)


@dataclass(frozen=True)
class StateFile:
    """One state file as found: its bytes' digest, NUL bytes, and the parsed object or why not."""

    path: str
    exists: bool
    size: int = 0
    mtime_ns: int = 0
    sha256: str = ""
    nul_bytes: int = 0
    symlink: bool = False
    error: str | None = None  # why it cannot be used: unreadable, too large, not JSON, not an object
    data: dict[str, Any] | None = None
    raw: bytes | None = None  # its bytes (at most MAX_STATE_BYTES), for the repairs' compare-and-swap

    @property
    def parses(self) -> bool:
        return self.data is not None

    @property
    def healthy(self) -> bool:
        return self.parses and self.nul_bytes == 0

    def summary(self) -> dict[str, Any]:
        return {"path": self.path, "exists": self.exists, "size": self.size, "sha256": self.sha256,
                "nul_bytes": self.nul_bytes, "symlink": self.symlink, "parses": self.parses, "error": self.error}


def read_state_file(path: Path, limit: int | None = None) -> StateFile:
    """Read and parse one state file, never more than `limit` bytes (MAX_STATE_BYTES), never
    blocking on a FIFO."""
    limit = MAX_STATE_BYTES if limit is None else limit
    text = str(path)
    if not os.path.lexists(path):
        return StateFile(text, exists=False)
    symlink = os.path.islink(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        return StateFile(text, True, symlink=symlink, error=f"cannot be opened: {exc.strerror or exc}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return StateFile(text, True, symlink=symlink, error="not a regular file")
        if st.st_size > limit:
            return StateFile(text, True, st.st_size, st.st_mtime_ns, symlink=symlink,
                             error=f"{st.st_size} bytes, more than the {limit} this tool reads")
        with os.fdopen(os.dup(fd), "rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        return StateFile(text, True, symlink=symlink, error=f"cannot be read: {exc.strerror or exc}")
    finally:
        os.close(fd)
    if len(raw) > limit:
        return StateFile(text, True, len(raw), st.st_mtime_ns, symlink=symlink,
                         error=f"more than the {limit} bytes this tool reads")
    digest = hashlib.sha256(raw).hexdigest()
    nul = raw.count(b"\x00")
    data, error = _parse(raw)
    return StateFile(text, True, len(raw), st.st_mtime_ns, digest, nul, symlink, error, data, raw)


def _parse(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    if not raw.strip(b" \t\r\n"):
        return None, "empty"
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        first_nul = raw.find(b"\x00")
        where = f" (NUL bytes from offset {first_nul})" if first_nul >= 0 else ""
        return None, f"not valid JSON: {exc}{where}"
    if not isinstance(value, dict):
        return None, f"not a JSON object but {type(value).__name__}"
    return value, None


def state_paths(codex_home: Path) -> tuple[Path, Path]:
    """Where the app keeps its state: in the Codex home, with its `.bak` beside it (reported:
    `%USERPROFILE%\\.codex\\.codex-global-state.json`, #37927, #46987)."""
    main = codex_home / STATE_FILE
    return main, main.with_name(STATE_FILE + BACKUP_SUFFIX)


@dataclass(frozen=True)
class LocalProject:
    id: str
    name: str
    root_paths: tuple[str, ...]
    fields: tuple[str, ...]  # the keys this entry has, in its order (the shape new entries copy)


@dataclass(frozen=True)
class Assignment:
    thread_id: str
    project_kind: str
    project_id: str
    cwd: str | None
    fields: tuple[str, ...]


@dataclass
class StateView:
    """What the state file says, by key; entries of an unknown shape are left out and named."""

    local_projects: dict[str, LocalProject] = field(default_factory=dict)
    project_order: list[str] = field(default_factory=list)
    assignments: dict[str, Assignment] = field(default_factory=dict)
    projectless: frozenset[str] = frozenset()
    pinned_threads: tuple[str, ...] = ()
    pinned_projects: tuple[str, ...] = ()
    legacy_maps: dict[str, dict[str, str]] = field(default_factory=dict)  # host -> legacy id -> project id
    migrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending_deletions: dict[str, Any] = field(default_factory=dict)  # hosts with deletions still pending
    shape_problems: list[str] = field(default_factory=list)

    def local_project_for(self, project_id: str, host: str | None) -> str | None:
        """The local (legacy) id the legacy map gives a state_5 project id."""
        for legacy, mapped in (self.legacy_maps.get(host or "") or {}).items():
            if mapped == project_id:
                return legacy
        return None


def _named(value: Any) -> str:
    """A key from the file, shortened for a message (the file is untrusted input)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _strings(value: Any) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def interpret(data: dict[str, Any]) -> StateView:
    view = StateView()
    problems = view.shape_problems
    _local_projects(data.get(LOCAL_PROJECTS), view, problems)
    order = data.get(PROJECT_ORDER)
    if order is not None and not _strings(order):
        problems.append(f"`{PROJECT_ORDER}` is not a list of ids")
    view.project_order = list(order) if _strings(order) else []
    _assignments(data.get(ASSIGNMENTS), view, problems)
    for key, name in ((PROJECTLESS, "projectless"), (PINNED_THREADS, "pinned_threads"),
                      (PINNED_PROJECTS, "pinned_projects")):
        value = data.get(key)
        if value is not None and not _strings(value):
            problems.append(f"`{key}` is not a list of ids")
        elif value is not None:
            setattr(view, name, frozenset(value) if name == "projectless" else tuple(value))
    for host, entry in _by_host(data, LEGACY_MAP, problems):
        if isinstance(entry, dict) and all(isinstance(v, str) for v in entry.values()):
            view.legacy_maps[host] = dict(entry)
        else:
            problems.append(f"`{LEGACY_MAP}` entry {_named(host)} is not a map of ids")
    for host, entry in _by_host(data, MIGRATIONS, problems):
        if isinstance(entry, dict):
            view.migrations[host] = entry
        else:
            problems.append(f"`{MIGRATIONS}` entry {_named(host)} is not an object")
    view.pending_deletions = {host: entry for host, entry in _by_host(data, PENDING_DELETIONS, problems) if entry}
    atom = data.get(ATOM_STATE)
    if atom is not None and not isinstance(atom, dict):
        problems.append(f"`{ATOM_STATE}` is not an object")
    return view


def _local_projects(value: Any, view: StateView, problems: list[str]) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        problems.append(f"`{LOCAL_PROJECTS}` is not an object")
        return
    for key, entry in value.items():
        if not isinstance(entry, dict):
            problems.append(f"`{LOCAL_PROJECTS}` entry {_named(key)} is not an object")
            continue
        unknown = [f for f in entry if f not in LOCAL_PROJECT_FIELDS]
        if unknown or not isinstance(entry.get("id"), str) or not isinstance(entry.get("name"), str) \
                or not _strings(entry.get("rootPaths")) or entry.get("id") != key \
                or any(f in entry and not isinstance(entry[f], int | float) for f in ("createdAt", "updatedAt")):
            problems.append(f"`{LOCAL_PROJECTS}` entry {_named(key)} has a shape this tool does not know "
                            f"(fields {_named(sorted(entry))})")
            continue
        view.local_projects[key] = LocalProject(key, entry["name"], tuple(entry["rootPaths"]), tuple(entry))


def _assignments(value: Any, view: StateView, problems: list[str]) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        problems.append(f"`{ASSIGNMENTS}` is not an object")
        return
    for thread_id, entry in value.items():
        if not isinstance(entry, dict) or any(f not in ASSIGNMENT_FIELDS for f in entry) \
                or not isinstance(entry.get("projectKind"), str) or not isinstance(entry.get("projectId"), str) \
                or ("cwd" in entry and not isinstance(entry["cwd"], str)) \
                or ("pendingCoreUpdate" in entry and not isinstance(entry["pendingCoreUpdate"], bool)):
            fields = _named(sorted(entry)) if isinstance(entry, dict) else type(entry).__name__
            problems.append(f"`{ASSIGNMENTS}` entry {_named(thread_id)} has a shape this tool does not know ({fields})")
            continue
        view.assignments[thread_id] = Assignment(thread_id, entry["projectKind"], entry["projectId"],
                                                 entry.get("cwd"), tuple(entry))


def _by_host(data: dict[str, Any], key: str, problems: list[str]) -> list[tuple[str, Any]]:
    """The (host, entry) pairs of a by-host key; a key that is not an object is a shape problem."""
    value = data.get(key)
    if value is not None and not isinstance(value, dict):
        problems.append(f"`{key}` is not an object")
    return list(value.items()) if isinstance(value, dict) else []


def host_key(data: dict[str, Any], codex_home: Path) -> str | None:
    """The app's name for this home (`local:<codex home>`) as the file itself spells it, taken from
    its by-host keys; None when the file names no host that is this home (never guessed)."""
    for section in (MIGRATIONS, LEGACY_MAP, PENDING_DELETIONS):
        value = data.get(section)
        if not isinstance(value, dict):
            continue
        for host in value:
            if isinstance(host, str) and host.startswith("local:"):
                path = host[len("local:"):]
                style = "windows" if is_windows_spelling(path) else "posix"
                if path and same_path(path, str(codex_home), style):
                    return host
    return None


def writes_state_file(effects: list[Effect]) -> bool:
    """Whether these effects write the app's state file (then the app must not be running)."""
    return any(isinstance(e, FileReplace) and os.path.basename(e.path).startswith(STATE_FILE) for e in effects)
