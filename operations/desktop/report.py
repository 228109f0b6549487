"""The audit's view of the desktop app's layers: findings with samples, per thread and per project.

Read-only. Put together from `projects.py` (state_5, verified with the binary), `statefile.py`
and `catalog.py` (the app's files, reported shapes) and `sidebar.py` (the sidebar, reported).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from operations.advice import Command, Placeholder, Step
from operations.desktop.catalog import Catalog, find_catalogs, read_catalog
from operations.desktop.projects import ProjectsView, read_projects
from operations.desktop.sidebar import PAGE, Sidebar, ThreadInput, model_sidebar
from operations.desktop.statefile import StateFile, StateView, host_key, interpret, read_state_file, state_paths
from operations.path_spelling import same_path

if TYPE_CHECKING:
    from operations.audit_model import ThreadAudit
    from operations.home import CodexHome

SAMPLES = 10

# finding code -> (what it means, where it is known from)
FINDINGS: dict[str, tuple[str, str]] = {
    "project_claimable": ("thread with no project whose cwd lies in exactly one project's roots (run "
                          "assign-projects, or fix, sets it)", "verified"),
    "project_contested": ("thread with no project whose cwd two or more projects' roots hold (nested or duplicate "
                          "roots): left alone, never guessed", "verified"),
    "project_dangling": ("thread whose project_id names no project", "verified"),
    "project_root_missing": ("project root that is not a folder on this machine (a renamed folder: rewrite-cwd moves "
                             "the root with the threads)", "verified"),
    "project_without_threads": ("project no thread belongs to", "verified"),
    "state_file_unusable": ("the app's .codex-global-state.json cannot be used (the app then starts from an empty "
                            "state: no projects, #37212, #46987)", "reported"),
    "state_file_nul_bytes": ("the app's state file holds NUL bytes (#37212, #42739, #43661)", "reported"),
    "state_backup_unusable": ("the state file's .bak cannot be used either", "reported"),
    "state_restorable": ("the state file is damaged and its .bak parses: fix --desktop (or run restore-desktop-state) "
                         "puts the .bak's bytes back", "reported"),
    "state_unknown_shape": ("an entry of a shape this tool does not know: the desktop repairs refuse to write",
                            "reported"),
    "state_pending_deletions": ("project deletions still pending in the app: the rebuild is stopped", "reported"),
    "state_no_host": ("the state file names no host for this Codex home (`local:<home>`)", "reported"),
    "state_migration_incomplete": ("the app's project migration for this home is marked incomplete "
                                   "(projectsMigrated / threadAssignmentsMigrated false, #42739, #42867)", "reported"),
    "state_projects_missing": ("project in state_5 that the app's local-projects does not hold, so the sidebar does "
                               "not show it (#42739, #42867, #39121): fix --desktop rebuilds it", "reported"),
    "state_local_project_unknown": ("local project of the app that no state_5 project matches (by the legacy-id map "
                                    "or its idempotency key): not migrated, or gone from Codex", "reported"),
    "state_assignment_dangling": ("thread-project-assignments entry naming a project local-projects does not hold",
                                  "reported"),
    "state_assignment_unknown_thread": ("thread-project-assignments entry for a thread this home does not have",
                                        "reported"),
    "state_order_dangling": ("project-order entry naming a project local-projects does not hold", "reported"),
    "state_legacy_map_dangling": ("legacy-id map entry naming a local project or a state_5 project that does not "
                                  "exist", "reported"),
    "state_pinned_unknown": ("pinned thread id that is no thread of this home", "reported"),
    "catalog_unreadable": ("the app's catalog codex-dev.db cannot be read", "reported"),
    "catalog_initial_build_incomplete": ("the app's catalog never finished its first build (initial_build_complete "
                                         "= 0, #34076, #35088)", "reported"),
    "catalog_fewer_rows": ("the app's catalog has fewer rows than the threads the app lists (#30385, #34076)",
                           "reported"),
    "catalog_missing_thread": ("listed thread absent from the app's catalog", "reported"),
    "catalog_missing_candidate": ("thread the app's catalog marks missing_candidate though its rollout is here "
                                  "(#42628)", "reported"),
    "catalog_ghost": ("catalog row of a thread this home does not have (#42628)", "reported"),
    "catalog_provider_mismatch": ("catalog row whose model_provider differs from the thread's", "reported"),
    "sidebar_beyond_page": ("listed thread older than the sidebar's page of the 50 most recent (not pinned)",
                            "reported"),
    "sidebar_no_chats": ("project the sidebar shows as \"No chats\": its threads are all older than the global page "
                         "(#18640, #20608, #23979, #27314)", "reported"),
    "sidebar_project_not_shown": ("thread whose project (threads.project_id) the sidebar cannot show: it is not in "
                                  "local-projects", "reported"),
}


@dataclass
class DesktopReport:
    state: StateFile
    backup: StateFile
    view: StateView | None
    host: str | None
    projects: ProjectsView
    catalogs: list[Catalog]
    sidebar: Sidebar | None
    findings: dict[str, list[str]] = field(default_factory=dict)

    @property
    def in_use(self) -> bool:
        """Whether this home has any desktop layer at all (a state file, a catalog, projects)."""
        return self.state.exists or self.backup.exists or bool(self.catalogs) or bool(self.projects.projects)

    def counts(self) -> dict[str, int]:
        return {code: len(items) for code, items in self.findings.items() if items}

    def thread(self, thread_id: str) -> dict[str, Any]:
        """Everything the desktop layers say of one thread (for `audit --explain`)."""
        p = self.projects
        project = p.thread_project.get(thread_id)
        names = {pid: proj.name for pid, proj in p.projects.items()}
        out: dict[str, Any] = {
            "project_id": project, "project_name": names.get(project or ""),
            "claimed_by": [{"id": c, "name": names.get(c)} for c in p.claimants.get(thread_id, ())],
            "claimable": p.claimable().get(thread_id), "subagent": thread_id in p.subagents,
        }
        if self.view is not None:
            assignment = self.view.assignments.get(thread_id)
            out["assignment"] = None if assignment is None else {"project_kind": assignment.project_kind,
                                                                 "project_id": assignment.project_id}
            out["projectless"] = thread_id in self.view.projectless
        if self.sidebar is not None and thread_id in self.sidebar.threads:
            out["sidebar"] = self.sidebar.threads[thread_id].to_json()
        for catalog in self.catalogs:
            row = catalog.threads.get(thread_id)
            out.setdefault("catalogs", []).append({
                "path": catalog.path, "present": row is not None,
                "missing_candidate": row.missing_candidate if row else None,
                "model_provider": row.provider if row else None})
        return out

    def to_json(self) -> dict[str, Any]:
        view = self.view
        members = Counter(p for p in self.projects.thread_project.values() if p is not None)
        claimable = Counter(self.projects.claimable().values())
        return {
            "in_use": self.in_use,
            "state_file": self.state.summary(), "state_backup": self.backup.summary(), "host": self.host,
            "state": None if view is None else {
                "local_projects": len(view.local_projects), "project_order": len(view.project_order),
                "assignments": len(view.assignments), "projectless": len(view.projectless),
                "pinned_threads": len(view.pinned_threads), "pinned_projects": len(view.pinned_projects),
                "migration": _short(view.migrations.get(self.host or "")),
                "pending_deletions": sorted(view.pending_deletions)[:SAMPLES],
                "shape_problems": view.shape_problems[:SAMPLES]},
            "projects": {"available": self.projects.available, "error": self.projects.error,
                         "projects": [{"id": p.id, "name": p.name, "roots": list(p.roots),
                                       "threads": members.get(p.id, 0), "claimable": claimable.get(p.id, 0)}
                                      for p in self.projects.projects.values()]},
            "catalogs": [c.summary() for c in self.catalogs],
            "sidebar": None if self.sidebar is None else {
                "page": PAGE, "state_usable": self.sidebar.state_usable,
                "shown": sum(1 for t in self.sidebar.threads.values() if t.shown),
                "projects": [p.to_json() for p in self.sidebar.projects]},
            "findings": {code: {"count": len(items), "sample": [i if len(i) <= 300 else i[:297] + "…"
                                                                 for i in items[:SAMPLES]], "text": FINDINGS[code][0],
                                "source": FINDINGS[code][1]} for code, items in self.findings.items() if items},
            "next_steps": desktop_steps(self),
        }

    def redacted(self, hashed: Callable[[str], str]) -> dict[str, Any]:
        """Counts and shapes only: no names, paths or titles; ids hashed."""
        return {
            "in_use": self.in_use,
            "state_file": {"exists": self.state.exists, "parses": self.state.parses, "size": self.state.size,
                           "nul_bytes": self.state.nul_bytes},
            "state_backup": {"exists": self.backup.exists, "parses": self.backup.parses,
                             "nul_bytes": self.backup.nul_bytes},
            "projects": len(self.projects.projects),
            "catalogs": [{"user_version": c.user_version, "rows": c.rows, "error": c.error is not None,
                          "initial_build_incomplete": c.initial_build_incomplete} for c in self.catalogs],
            "findings": self.counts(),
            "sidebar_projects": [{"id": hashed(p.local_id), "threads": p.threads, "in_page": p.in_page,
                                  "shows_no_chats": p.shows_no_chats} for p in (self.sidebar.projects
                                                                                 if self.sidebar else [])],
        }


def _short(value: Any, limit: int = 2000) -> Any:
    """A value from the app's file, shown only when small (the file is untrusted input)."""
    return value if len(repr(value)) <= limit else f"({len(repr(value))} characters, not shown)"


def desktop_steps(report: DesktopReport) -> list[Step]:
    """What to do for the desktop layers, each with the command that does it."""
    counts = report.counts()
    steps = []
    if counts.get("project_claimable"):
        steps.append(Step("project_claimable", f"{counts['project_claimable']} thread(s) belong in exactly one project "
                          "by their folder", Command(("run", "assign-projects")), " (fix does it too)"))
    if counts.get("state_restorable"):
        steps.append(Step("state_restorable", "the desktop app's state file is damaged and its .bak is good: quit the "
                          "app, then", Command(("fix",), (("desktop", True),)), " (it puts the .bak's bytes back)"))
    if counts.get("state_projects_missing") or counts.get("state_assignment_dangling"):
        steps.append(Step("state_projects_missing", "the desktop app lost projects that state_5 still holds: quit the "
                          "app, then", Command(("fix",), (("desktop", True),)), " (it rebuilds local-projects and the "
                          "assignments from state_5)"))
    if counts.get("sidebar_no_chats"):
        steps.append(Step("sidebar_no_chats", f"{counts['sidebar_no_chats']} project(s) show \"No chats\" because "
                          f"their threads are older than the sidebar's page of {PAGE}: pin a thread, or open it from "
                          "`codex resume`; no repair changes what the app asks for"))
    if counts.get("project_root_missing"):
        steps.append(Step("project_root_missing", "a project root is no folder here: if the folder was renamed",
                          Command(("run", "rewrite-cwd"), (("from_folder", Placeholder("OLD")),
                                                           ("to_folder", Placeholder("NEW")))),
                          " moves the threads and the root together"))
    return steps


def _inputs(threads: Sequence[ThreadAudit]) -> list[ThreadInput]:
    out = []
    for t in threads:
        if t.ide is None:
            continue
        cwd = t.row.cwd if t.row is not None else (t.facts.cwd if t.facts is not None else "")
        out.append(ThreadInput(t.id, t.ide.listed, t.ide.reasons, t.recency_ms, cwd))
    return out


def read_desktop(home: CodexHome, threads: Sequence[ThreadAudit], user_home: Path | None = None) -> DesktopReport:
    """Every desktop layer of this home, read-only."""
    main, bak = state_paths(home.codex_home)
    state, backup = read_state_file(main), read_state_file(bak)
    view = interpret(state.data) if state.data is not None else None
    host = host_key(state.data, home.codex_home) if state.data is not None else None
    projects = read_projects(home.state_db)
    catalogs = [read_catalog(path, how) for path, how in find_catalogs(home.codex_home, user_home)]
    inputs = _inputs(threads)
    applied = next((c for c in catalogs if same_path(os.path.dirname(os.path.dirname(c.path)), str(home.codex_home))),
                   None)
    hides = _catalog_hides(applied, inputs) if applied is not None else {}
    sidebar = (model_sidebar(inputs, view if state.exists else None, host, projects, hides)
               if state.exists or backup.exists else None)
    report = DesktopReport(state, backup, view, host, projects, catalogs, sidebar)
    _findings(report, threads, inputs)
    return report


def _catalog_hides(catalog: Catalog, inputs: list[ThreadInput]) -> dict[str, str]:
    """Listed threads a stale catalog hides (reported), with why."""
    if catalog.error or catalog.truncated:
        return {}
    listed = [t for t in inputs if t.listed]
    stale = catalog.initial_build_incomplete or catalog.rows < len(listed)
    hides = {}
    for t in listed:
        row = catalog.threads.get(t.id)
        if row is None and stale:
            why = ("initial build incomplete" if catalog.initial_build_incomplete
                   else f"{catalog.rows} rows for {len(listed)} listed threads")
            hides[t.id] = f"absent from the app's stale catalog {catalog.path} ({why})"
        elif row is not None and row.missing_candidate:
            hides[t.id] = f"marked missing_candidate in the app's catalog {catalog.path}"
    return hides


def _findings(report: DesktopReport, threads: Sequence[ThreadAudit], inputs: list[ThreadInput]) -> None:
    f: dict[str, list[str]] = {}
    p = report.projects
    f["project_claimable"] = sorted(p.claimable())
    f["project_contested"] = sorted(p.contested())
    f["project_dangling"] = sorted(p.dangling())
    f["project_root_missing"] = [f"{pid}: {root}" for pid, root in p.missing_roots()]
    f["project_without_threads"] = p.without_threads()
    state, backup, view = report.state, report.backup, report.view
    if state.exists and not state.parses:
        f["state_file_unusable"] = [f"{state.path}: {state.error}"]
    if state.nul_bytes:
        f["state_file_nul_bytes"] = [f"{state.path}: {state.nul_bytes} NUL byte(s)"]
    if backup.exists and not backup.healthy:
        f["state_backup_unusable"] = [f"{backup.path}: {backup.error or f'{backup.nul_bytes} NUL byte(s)'}"]
    if state.exists and not state.healthy and backup.healthy:
        f["state_restorable"] = [state.path]
    known = {t.id for t in threads}
    if view is not None:
        _state_findings(f, report, view, known)
    for catalog in report.catalogs:
        _catalog_findings(f, catalog, threads, inputs)
    if report.sidebar is not None:
        side = report.sidebar
        f["sidebar_beyond_page"] = sorted(t.thread_id for t in side.threads.values()
                                          if t.listed and t.rank is not None and t.rank > PAGE and not t.pinned)
        f["sidebar_no_chats"] = [pr.local_id for pr in side.projects if pr.shows_no_chats]
        f["sidebar_project_not_shown"] = sorted(t.thread_id for t in side.threads.values()
                                                if t.listed and t.unshown_project is not None)
    report.findings = {k: v for k, v in f.items() if v}


def _state_findings(f: dict[str, list[str]], report: DesktopReport, view: StateView, known: set[str]) -> None:
    p = report.projects
    f["state_unknown_shape"] = list(view.shape_problems)
    f["state_pending_deletions"] = sorted(view.pending_deletions)
    if report.host is None and p.projects:
        f["state_no_host"] = [report.state.path]
    migration = view.migrations.get(report.host or "")
    if isinstance(migration, dict) and (migration.get("projectsMigrated") is False
                                        or migration.get("threadAssignmentsMigrated") is False):
        f["state_migration_incomplete"] = [f"{report.host}: {_short(migration, 300)}"]
    legacy = view.legacy_maps.get(report.host or "") or {}
    f["state_projects_missing"] = sorted(pid for pid, project in p.projects.items()
                                         if not any(legacy.get(local) == pid for local in view.local_projects)
                                         and not any(k in view.local_projects for k in project.idempotency_keys))
    keys = {k for project in p.projects.values() for k in project.idempotency_keys}
    f["state_local_project_unknown"] = sorted(local for local in view.local_projects if p.available
                                              and legacy.get(local) not in p.projects and local not in keys)
    f["state_assignment_dangling"] = sorted(t for t, a in view.assignments.items()
                                            if a.project_id not in view.local_projects)
    f["state_assignment_unknown_thread"] = sorted(t for t in view.assignments if t not in known)
    f["state_order_dangling"] = [i for i in view.project_order if i not in view.local_projects]
    f["state_legacy_map_dangling"] = sorted(f"{local} -> {pid}" for local, pid in legacy.items()
                                            if local not in view.local_projects or pid not in p.projects)
    f["state_pinned_unknown"] = sorted(t for t in view.pinned_threads if t not in known)


def _catalog_findings(f: dict[str, list[str]], catalog: Catalog, threads: Sequence[ThreadAudit],
                      inputs: list[ThreadInput]) -> None:
    if catalog.error:
        f.setdefault("catalog_unreadable", []).append(f"{catalog.path}: {catalog.error}")
        return
    if catalog.initial_build_incomplete:
        f.setdefault("catalog_initial_build_incomplete", []).append(catalog.path)
    listed = [t.id for t in inputs if t.listed]
    if catalog.rows < len(listed):
        f.setdefault("catalog_fewer_rows", []).append(f"{catalog.path}: {catalog.rows} rows for {len(listed)} "
                                                      "listed threads")
    if catalog.truncated:
        return
    by_id = {t.id: t for t in threads}
    f.setdefault("catalog_missing_thread", []).extend(sorted(t for t in listed if t not in catalog.threads))
    f.setdefault("catalog_missing_candidate", []).extend(sorted(
        tid for tid, row in catalog.threads.items() if row.missing_candidate and tid in by_id and by_id[tid].files))
    f.setdefault("catalog_ghost", []).extend(sorted(tid for tid in catalog.threads if tid not in by_id))
    providers = {t.id: t.facts.provider for t in threads if t.facts is not None}
    f.setdefault("catalog_provider_mismatch", []).extend(sorted(
        tid for tid, row in catalog.threads.items() if row.provider and tid in providers
        and providers[tid] != row.provider))
