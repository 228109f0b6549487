"""`repair-paths`: make a row and its file agree on the place Codex would use.

For a row whose file is not at its `rollout_path` (moved, or the row points into another
home), while exactly one file with the thread's id exists here: move the file, within the
home, to sessions/YYYY/MM/DD/ (active) or archived_sessions/ (archived), keeping its
mtime, and point the row at it. Several candidates: reported, never guessed.
"""

from __future__ import annotations

from journal.runner import PlannedOp
from operations.path_spelling import same_path, spelled_like
from operations.repair.plan import Plan
from operations.repair.rollout_files import each_writable, move_to_canonical
from operations.repair.rows import row_update
from operations.repair.selection import RepairContext, ThreadFilter

NEEDS_REPAIR = ("missing_rollout_path", "rollout_path_outside_home")


def plan_repair_paths(ctx: RepairContext, flt: ThreadFilter) -> Plan:
    plan = Plan("repair-paths")
    wanted = [t for t in ctx.selected(flt) if t.row is not None and set(t.problems) & set(NEEDS_REPAIR)]
    for t, row, file in each_writable(ctx, plan, wanted):
        placed = move_to_canonical(ctx, plan, t, file, archived=bool(row["archived"]))
        if placed is None:
            continue
        target, effects = placed
        if not same_path(row["rollout_path"], str(target)):
            effects.append(row_update(ctx.home, t.id, row,
                                      {"rollout_path": spelled_like(str(target), row["rollout_path"])}))
        if effects:
            plan.ops.append(PlannedOp(f"repair path of {t.id}", tuple(effects), subject=t.id))
    return plan
