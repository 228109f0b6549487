"""`assign-projects`: give a thread with no project the one project whose roots hold its folder.

Codex's own tables only: `threads.project_id` is set, nothing else (app-server's
`thread/metadata/update {threadId, projectId}` sets the same column and leaves the rollout as it
is; it also nudges `updated_at_ms` by a millisecond, which this repair does not copy, so no
list's order changes). A thread whose folder two or more projects' roots hold (nested or
duplicate roots) is left alone and named, never guessed; sub-agent threads follow their parent
and are left alone. Checked with the real 0.171 app-server: `thread/list` with `projectId`
then lists exactly the threads this plan assigns (tests/test_codex_desktop.py).
"""

from __future__ import annotations

from journal.runner import PlannedOp
from operations.desktop.projects import ProjectsView, read_projects
from operations.repair.plan import Plan, Why
from operations.repair.rollout_files import each_with_row
from operations.repair.rows import row_update
from operations.repair.selection import RepairContext, ThreadFilter


def projects_of(ctx: RepairContext) -> ProjectsView:
    """The projects as the audit read them (or read now, for a context built without one)."""
    desktop = ctx.report.desktop
    return desktop.projects if desktop is not None else read_projects(ctx.home.state_db)


def plan_assign_projects(ctx: RepairContext, flt: ThreadFilter) -> Plan:
    plan = Plan("assign-projects")
    projects = projects_of(ctx)
    if projects.error:
        plan.warnings.append(f"the projects cannot be read: {projects.error}")
        return plan
    if not projects.available:
        plan.warnings.append("this state database has no projects (they came with Codex 0.152)")
        return plan
    claimable, contested = projects.claimable(), projects.contested()
    wanted = [t for t in ctx.selected(flt) if t.row is not None and (t.id in claimable or t.id in contested)]
    left = [t for t in ctx.selected(flt) if t.id in projects.subagents and t.id in projects.claimants
            and projects.thread_project.get(t.id) is None]
    if left:
        plan.warnings.append(f"{len(left)} sub-agent thread(s) left alone: they follow their parent thread")
    names = {p.id: p.name for p in projects.projects.values()}
    for t, row in each_with_row(ctx, plan, wanted):
        if t.id in contested:
            listed = ", ".join(f"{names[p]} ({p})" for p in contested[t.id])
            plan.leave(t.id, Why("project_contested", f"its folder {row['cwd']} lies in the roots of several "
                                 f"projects: {listed}; not guessed (move it in the app, or thread/metadata/update)"))
            continue
        if row.get("project_id") is not None:
            continue
        project = claimable[t.id]
        plan.ops.append(PlannedOp(f"assign {t.id} to project {names[project]}",
                                  (row_update(ctx.home, t.id, row, {"project_id": project}),), subject=t.id))
    return plan
