"""What the desktop app's sidebar shows: per thread (shown? under which project? at what rank?
what hides it?) and per project ("No chats"?).

**Reported**, not verified (the app cannot run here; docs/desktop-layers.md): the sidebar asks
`thread/list` for one page of about 50 threads, newest first by recency, and groups that page
by project; it never asks for a project's own threads, so a project whose threads are all older
than the global page shows "No chats" (openai/codex #18640, #20608, #20833, #21581, #23825,
#23979, #26634, #27159, #27314). A pinned thread is shown whatever its age (#25500, #37990).
The projects are the state file's `local-projects`. A thread sits under a project by, in order:
its `threads.project_id` when the legacy-id map names a local project for it ("native project
ids take precedence", a peer's reader); its `thread-project-assignments` entry; no project when
it is in `projectless-thread-ids`; else the local project one of whose roots equals its cwd
(backslashes as `/`, case folded). An assignment to a project the file no longer has is taken
as absent. The app's default filters are the IDE list's, modelled and checked against the real
`thread/list` (operations/visibility.py). The catalog's part is in `report.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from operations.desktop.projects import ProjectsView
from operations.desktop.statefile import StateView
from operations.visibility import Reason

PAGE = 50


@dataclass(frozen=True)
class ThreadInput:
    """What the sidebar model needs of one thread."""

    id: str
    listed: bool  # the app's default `thread/list` lists it
    hidden_by: tuple[Reason, ...]  # why that list does not, when it does not
    recency_ms: int
    cwd: str


@dataclass(frozen=True)
class SidebarThread:
    thread_id: str
    listed: bool
    rank: int | None  # newest-first among the listed threads
    pinned: bool
    project: str | None  # the local project it is grouped under
    project_name: str | None
    grouped_by: str  # project_id, assignment, root, projectless, none
    shown: bool
    section: str  # pinned, project, recents, hidden
    reasons: tuple[Reason, ...]
    unshown_project: str | None = None  # its threads.project_id, whose project local-projects lacks

    def to_json(self) -> dict[str, Any]:
        return {"shown": self.shown, "section": self.section, "rank": self.rank, "pinned": self.pinned,
                "project": self.project, "project_name": self.project_name, "grouped_by": self.grouped_by,
                "reasons": [r.detail for r in self.reasons], "kinds": [r.kind for r in self.reasons]}


@dataclass(frozen=True)
class SidebarProject:
    local_id: str
    name: str
    project_id: str | None  # the state_5 project the legacy-id map names for it
    threads: int  # listed threads grouped under it
    in_page: int  # of which within the page (or pinned)
    newest_rank: int | None

    @property
    def shows_no_chats(self) -> bool:
        return self.threads > 0 and self.in_page == 0

    def to_json(self) -> dict[str, Any]:
        return {"local_id": self.local_id, "name": self.name, "project_id": self.project_id, "threads": self.threads,
                "in_page": self.in_page, "newest_rank": self.newest_rank, "shows_no_chats": self.shows_no_chats}


@dataclass
class Sidebar:
    state_usable: bool
    threads: dict[str, SidebarThread] = field(default_factory=dict)
    projects: list[SidebarProject] = field(default_factory=list)


def normalised(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").casefold()


def model_sidebar(threads: Iterable[ThreadInput], view: StateView | None, host: str | None,
                  projects: ProjectsView, catalog_hides: dict[str, str] | None = None) -> Sidebar:
    """The sidebar as the app would draw it from this state (`view` None: the state file cannot
    be used, and the app starts from an empty state, #37212, #46987)."""
    catalog_hides = catalog_hides or {}
    sidebar = Sidebar(state_usable=view is not None)
    view = view if view is not None else StateView()
    ordered = list(threads)
    listed = sorted((t for t in ordered if t.listed), key=lambda t: (t.recency_ms, t.id), reverse=True)
    rank = {t.id: n for n, t in enumerate(listed, start=1)}
    pinned = set(view.pinned_threads)
    roots: dict[str, str] = {}
    for local_id in [*view.project_order, *view.local_projects]:
        project = view.local_projects.get(local_id)
        for root in project.root_paths if project else ():
            roots.setdefault(normalised(root), local_id)
    for t in ordered:
        group, how, notes, unshown = _group(t, view, host, projects, roots)
        reasons = list(notes)
        r = rank.get(t.id)
        is_pinned = t.id in pinned
        if not t.listed:
            reasons += [Reason("not_listed", f"not listed by the app's thread/list: {why.detail}")
                        for why in t.hidden_by]
        elif r is not None and r > PAGE and not is_pinned:
            reasons.append(Reason("page", f"page: number {r} by recency; the sidebar loads only the {PAGE} most recent "
                                  "threads and groups them by project (pin it, or open it by id, to see it)"))
        if t.id in catalog_hides and t.listed:
            reasons.append(Reason("catalog", f"catalog: {catalog_hides[t.id]}"))
        shown = t.listed and (is_pinned or (r is not None and r <= PAGE)) and t.id not in catalog_hides
        section = "hidden" if not shown else "pinned" if is_pinned else "project" if group else "recents"
        name = view.local_projects[group].name if group else None
        sidebar.threads[t.id] = SidebarThread(t.id, t.listed, r, is_pinned, group, name, how, shown, section,
                                              tuple(reasons), unshown)
    by_project: dict[str, list[SidebarThread]] = {}
    for entry in sidebar.threads.values():
        if entry.project is not None and entry.listed:
            by_project.setdefault(entry.project, []).append(entry)
    for local_id, project in view.local_projects.items():
        grouped = by_project.get(local_id, [])
        ranks = [s.rank for s in grouped if s.rank is not None]
        mapped = (view.legacy_maps.get(host or "") or {}).get(local_id)
        sidebar.projects.append(SidebarProject(local_id, project.name, mapped, len(grouped),
                                               sum(1 for s in grouped if s.shown), min(ranks) if ranks else None))
    return sidebar


def _group(t: ThreadInput, view: StateView, host: str | None, projects: ProjectsView,
           roots: dict[str, str]) -> tuple[str | None, str, list[Reason], str | None]:
    """(local project, how it was found, notes, the state_5 project it cannot be shown under)."""
    notes: list[Reason] = []
    native = projects.thread_project.get(t.id)
    if native is not None:
        local = view.local_project_for(native, host)
        if local is not None and local in view.local_projects:
            return local, "project_id", notes, None
        name = projects.projects[native].name if native in projects.projects else native
        notes.append(Reason("project", f"project: its project `{name}` (threads.project_id) is not in the app's "
                            "local-projects, so the sidebar cannot show it there (fix --desktop rebuilds "
                            "local-projects from state_5)"))
    assignment = view.assignments.get(t.id)
    if assignment is not None:
        if assignment.project_kind == "local" and assignment.project_id in view.local_projects:
            return assignment.project_id, "assignment", notes, native
        notes.append(Reason("project", f"project: assigned to `{assignment.project_id}`, which the app's "
                            "local-projects does not hold"))
    by_root = roots.get(normalised(t.cwd)) if t.cwd and t.id not in view.projectless else None
    how = "projectless" if t.id in view.projectless else "root" if by_root is not None else "none"
    return by_root, how, notes, native
