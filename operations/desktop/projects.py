"""Projects in `state_5.sqlite`: which exist, their roots, and which project could claim a thread.

Verified with the npm binary (0.169, 0.171; docs/desktop-layers.md): migration 49 adds
`projects(id, name, metadata, position, created_at_ms, updated_at_ms)`, `project_roots(project_id,
position, path)`, `project_idempotency_keys(key, project_id, created_at_ms)` and
`threads.project_id`; app-server `thread/list` with `projectId` lists the threads whose
`project_id` is that project, and `project/create` assigns no existing thread (0.171, checked in
tests/test_codex_desktop.py). A thread **could be claimed** by a project when its `cwd` is one
of that project's roots or lies below one, by path components (`operations/path_spelling.is_inside`).
Exactly one claimant is a repair (`assign-projects`); two or more (nested or duplicate roots) is
reported and never guessed.
"""

from __future__ import annotations

import os
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from journal.sqlio import connect_ro
from operations.path_spelling import PATH_STYLE, is_inside, is_windows_spelling


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    position: int
    roots: tuple[str, ...]  # by position
    created_at_ms: int
    updated_at_ms: int
    idempotency_keys: tuple[str, ...]  # the desktop app's own id for it (reported: #42739)


@dataclass
class ProjectsView:
    """The projects of one state database and each thread's project, as the rows say."""

    available: bool = False  # this schema has projects (Codex 0.152+)
    error: str | None = None
    projects: dict[str, Project] = field(default_factory=dict)
    thread_project: dict[str, str | None] = field(default_factory=dict)  # thread id -> threads.project_id
    thread_cwd: dict[str, str] = field(default_factory=dict)
    subagents: frozenset[str] = frozenset()  # rows of sub-agent threads: they follow their parent, left alone
    claimants: dict[str, tuple[str, ...]] = field(default_factory=dict)  # thread id -> projects holding its cwd

    def claimable(self) -> dict[str, str]:
        """Threads with no project whose cwd exactly one project's roots hold: thread -> project."""
        return {t: c[0] for t, c in self.claimants.items()
                if len(c) == 1 and self.thread_project.get(t) is None and t not in self.subagents}

    def contested(self) -> dict[str, tuple[str, ...]]:
        """Threads with no project that two or more projects could claim (never guessed)."""
        return {t: c for t, c in self.claimants.items()
                if len(c) > 1 and self.thread_project.get(t) is None and t not in self.subagents}

    def dangling(self) -> dict[str, str]:
        """Threads whose project_id names no project."""
        return {t: p for t, p in self.thread_project.items() if p is not None and p not in self.projects}

    def members(self, project_id: str) -> list[str]:
        return sorted(t for t, p in self.thread_project.items() if p == project_id)

    def missing_roots(self) -> list[tuple[str, str]]:
        """(project id, root) for every root that is not a folder on this machine."""
        return [(p.id, root) for p in self.projects.values() for root in p.roots if not os.path.isdir(root)]

    def without_threads(self) -> list[str]:
        used = {p for p in self.thread_project.values() if p is not None}
        return sorted(p for p in self.projects if p not in used)


def _style(*paths: str) -> str:
    return "windows" if any(is_windows_spelling(p) for p in paths) else PATH_STYLE


def claimants_of(cwd: str, projects: dict[str, Project]) -> tuple[str, ...]:
    """The projects one of whose roots is `cwd` or holds it (by path components)."""
    if not cwd:
        return ()
    return tuple(sorted(p.id for p in projects.values()
                        if any(is_inside(cwd, [root], _style(cwd, root)) for root in p.roots if root)))


def read_projects(db: Path | None) -> ProjectsView:
    """Projects, roots, keys and every row's project, read-only; a schema without projects is
    `available=False`, a database that cannot be read is an `error`, never an exception."""
    view = ProjectsView()
    if db is None or not db.exists():
        return view
    try:
        conn = connect_ro(str(db))
    except sqlite3.Error as exc:
        view.error = str(exc)
        return view
    conn.text_factory = lambda b: b.decode("utf-8", "replace")
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        columns = {r[1] for r in conn.execute("SELECT * FROM pragma_table_info('threads')")}
        if not {"projects", "project_roots"} <= tables or "project_id" not in columns:
            return view
        view.available = True
        roots: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for project_id, position, path in conn.execute("SELECT project_id, position, path FROM project_roots"):
            roots[str(project_id)].append((int(position), str(path)))
        keys: dict[str, list[str]] = defaultdict(list)
        if "project_idempotency_keys" in tables:
            for key, project_id in conn.execute("SELECT key, project_id FROM project_idempotency_keys ORDER BY key"):
                keys[str(project_id)].append(str(key))
        for pid, name, position, created, updated in conn.execute(
                "SELECT id, name, position, created_at_ms, updated_at_ms FROM projects ORDER BY position, id"):
            view.projects[str(pid)] = Project(str(pid), str(name), int(position),
                                              tuple(p for _, p in sorted(roots.get(str(pid), []))),
                                              int(created), int(updated), tuple(keys.get(str(pid), [])))
        subagents = set()
        # without projects only a dangling project_id can be found: read just those rows
        query = "SELECT id, cwd, project_id, source FROM threads" + (
            "" if view.projects else " WHERE project_id IS NOT NULL")
        for thread_id, cwd, project_id, source in conn.execute(query):
            view.thread_project[str(thread_id)] = None if project_id is None else str(project_id)
            view.thread_cwd[str(thread_id)] = str(cwd or "")
            if "subagent" in str(source or ""):
                subagents.add(str(thread_id))
        view.subagents = frozenset(subagents)
    except sqlite3.Error as exc:
        view.error = str(exc)
        return view
    finally:
        conn.close()
    by_cwd: dict[str, tuple[str, ...]] = {}
    for thread_id, cwd in view.thread_cwd.items():
        if cwd not in by_cwd:
            by_cwd[cwd] = claimants_of(cwd, view.projects)
        if by_cwd[cwd]:
            view.claimants[thread_id] = by_cwd[cwd]
    return view
