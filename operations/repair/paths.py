"""`repair-paths`: make a row and its file agree on the place Codex would use.

For a row whose file is not at its `rollout_path` (moved, or the row points into another
home), while exactly one file with the thread's id exists here: move the file, within the
home, to sessions/YYYY/MM/DD/ (active) or archived_sessions/ (archived), keeping its
mtime, and point the row at it. Several candidates: reported, never guessed.
"""

from __future__ import annotations

import os
from pathlib import Path

from journal.effects import Effect
from journal.runner import PlannedOp
from operations.repair.common import (
    Plan,
    RepairContext,
    ThreadFilter,
    canonical_path,
    current_rows,
    move_effect,
    row_update,
    writable_single_file,
)

NEEDS_REPAIR = ("missing_rollout_path", "rollout_path_outside_home")


def plan_repair_paths(ctx: RepairContext, flt: ThreadFilter) -> Plan:
    plan = Plan("repair-paths")
    wanted = [t for t in ctx.selected(flt) if t.row is not None and set(t.problems) & set(NEEDS_REPAIR)]
    rows = current_rows(ctx.home, [t.id for t in wanted])
    for t in wanted:
        plan.considered += 1
        row = rows.get(t.id)
        if row is None:
            plan.refuse(t.id, "the row disappeared while planning")
            continue
        file = writable_single_file(t, ctx, plan)
        if file is None:
            continue
        target = canonical_path(ctx.home, os.path.basename(file.plain_path), archived=bool(row["archived"]))
        destination = Path(str(target) + ".zst") if file.compressed else target
        effects: list[Effect] = []
        if os.path.abspath(file.path) != str(destination):
            if destination.exists():
                plan.refuse(t.id, f"{destination} already exists")
                continue
            effects.append(move_effect(file, destination))
        if row["rollout_path"] != str(target):
            effects.append(row_update(ctx.home, t.id, row, {"rollout_path": str(target)}))
        if effects:
            plan.ops.append(PlannedOp(f"repair path of {t.id}", tuple(effects), subject=t.id))
    return plan
