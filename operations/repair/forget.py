"""`forget-missing`: retire rows whose rollout exists nowhere in this home.

Such a row can never be listed or resumed, and keeps `audit --check` failing. The row is
deleted by a journaled `row_delete` that records the whole row, so `undo` puts it back.
Only the `threads` row is touched; Codex drops what hangs off it when it next cleans up.
"""

from __future__ import annotations

from journal.effects import RowDelete
from journal.runner import PlannedOp
from operations.repair.common import Plan, RepairContext, ThreadFilter, current_rows


def plan_forget_missing(ctx: RepairContext, flt: ThreadFilter) -> Plan:
    plan = Plan("forget-missing")
    wanted = [t for t in ctx.selected(flt) if t.row is not None and "db_not_on_disk" in t.problems]
    rows = current_rows(ctx.home, [t.id for t in wanted])
    db = ctx.home.state_db
    for t in wanted:
        plan.considered += 1
        row = rows.get(t.id)
        if row is None or db is None:
            continue
        plan.ops.append(PlannedOp(f"forget {t.id} (its rollout {row['rollout_path']} exists nowhere)",
                                  (RowDelete(str(db), "threads", {"id": t.id}, row),), subject=t.id))
    return plan
