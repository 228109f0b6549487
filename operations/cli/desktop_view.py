"""How the audit prints the desktop app's layers (issue 22): a section of the report, and a
thread's part of `audit --explain`."""

from __future__ import annotations

from typing import Any

from operations.desktop.report import FINDINGS, DesktopReport
from operations.desktop.sidebar import PAGE


def section(desktop: DesktopReport) -> list[str]:
    """The desktop section of the human report (empty when the home has no desktop layer)."""
    if not desktop.in_use:
        return []
    out = ["desktop app (projects verified with the Codex binary; the app's own files and sidebar from users' "
           "reports):"]
    p = desktop.projects
    if p.error:
        out.append(f"  projects: cannot be read: {p.error}")
    elif p.projects:
        out.append(f"  projects in state_5: {len(p.projects)}")
        for project in list(p.projects.values())[:12]:
            out.append(f"    {project.name}: {len(p.members(project.id))} thread(s), roots "
                       f"{', '.join(project.roots) or '(none)'}")
    state = desktop.state
    if state.exists:
        health = "ok" if state.healthy else (state.error or f"{state.nul_bytes} NUL byte(s)")
        out.append(f"  state file {state.path}: {health}")
    if desktop.backup.exists:
        out.append(f"  its .bak: {'ok' if desktop.backup.healthy else desktop.backup.error or 'NUL bytes'}")
    if desktop.view is not None:
        v = desktop.view
        out.append(f"    local-projects {len(v.local_projects)}, project-order {len(v.project_order)}, assignments "
                   f"{len(v.assignments)}, projectless {len(v.projectless)}, pinned {len(v.pinned_threads)}")
    for catalog in desktop.catalogs:
        text = catalog.error or (f"user_version {catalog.user_version}, {catalog.rows} row(s), initial build "
                                 f"{'INCOMPLETE' if catalog.initial_build_incomplete else 'complete'}")
        out.append(f"  catalog {catalog.path}: {text}")
    if desktop.sidebar is not None:
        shown = sum(1 for t in desktop.sidebar.threads.values() if t.shown)
        out.append(f"  sidebar (modelled, one page of {PAGE} grouped by project): {shown} thread(s) shown")
        for group in desktop.sidebar.projects[:12]:
            state_text = "No chats" if group.shows_no_chats else f"{group.in_page} shown"
            out.append(f"    {group.name}: {group.threads} thread(s), {state_text}")
    for code, count in desktop.counts().items():
        text, source = FINDINGS[code]
        out.append(f"  {code}: {count}  ({text}; {source})")
    return out


def explain(data: dict[str, Any]) -> list[str]:
    """One thread's desktop part of `audit --explain`."""
    out = []
    if data.get("project_id"):
        out.append(f"  project (threads.project_id): {data['project_name'] or '?'} ({data['project_id']})")
    elif data.get("claimable"):
        out.append(f"  project: none, but its folder lies in exactly one project's roots ({data['claimable']}): "
                   "codex-sessions run assign-projects sets it")
    elif len(data.get("claimed_by") or []) > 1:
        names = ", ".join(c["name"] or c["id"] for c in data["claimed_by"])
        out.append(f"  project: none; several projects' roots hold its folder ({names}): not guessed")
    sidebar = data.get("sidebar")
    if sidebar is not None:
        where = sidebar["project_name"] or ("(no project: Recents)" if sidebar["shown"] else "")
        head = (f"shown, {sidebar['section']}" + (f" under {where}" if where else "") if sidebar["shown"]
                else "HIDDEN")
        rank = f", number {sidebar['rank']} by recency" if sidebar["rank"] else ""
        out.append(f"  desktop sidebar (modelled from reports): {head}{rank}; grouped by {sidebar['grouped_by']}")
        out += [f"    - {reason}" for reason in sidebar["reasons"]]
    for catalog in data.get("catalogs") or []:
        state = ("absent" if not catalog["present"] else "marked missing_candidate" if catalog["missing_candidate"]
                 else "present")
        out.append(f"  desktop catalog {catalog['path']}: {state}")
    return out
