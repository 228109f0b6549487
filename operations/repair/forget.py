"""`forget-missing`: retire rows whose rollout exists nowhere in this home.

Such a row can never be listed or resumed, and keeps `audit --check` failing. The row is
deleted by a journaled `row_delete` that records the whole row, so `undo` puts it back.
Only the `threads` row is touched; Codex drops what hangs off it when it next cleans up.
"""

from __future__ import annotations

import os

from journal.effects import RowDelete
from journal.guard import symlink_in
from journal.runner import PlannedOp
from journal.sqlio import connect_ro, fetch_rowid
from operations.repair.plan import Plan, Why
from operations.repair.rows import current_rows
from operations.repair.selection import RepairContext, ThreadFilter


def still_there(rollout_path: str, ctx: RepairContext) -> Why | None:
    """Why a row must not be forgotten though the scan found no file for it: something is at its
    path (a file the scan could not read, a FIFO), or its way there passes a symlink (a folder on
    another disk that may only be unmounted)."""
    if not rollout_path:
        return None
    for path in (rollout_path, rollout_path + ".zst"):
        if os.path.lexists(path):
            return Why("still_there", f"something exists at {path}; it is not forgotten")
    link = symlink_in(rollout_path, ctx.home.roots)
    if link is not None:
        return Why("behind_symlink", f"its rollout_path goes through the symlink {link}, which leads nowhere now; "
                   "it is not forgotten")
    return None


def plan_forget_missing(ctx: RepairContext, flt: ThreadFilter) -> Plan:
    plan = Plan("forget-missing")
    wanted = [t for t in ctx.selected(flt) if t.row is not None and "db_not_on_disk" in t.problems
              and not {"symlinked_rollout", "not_regular_file"} & set(t.problems)]
    rows = current_rows(ctx.home, [t.id for t in wanted])
    db = ctx.home.state_db
    rowids: dict[str, int | None] = {}
    if db is not None and rows:
        conn = connect_ro(str(db))  # the rowid is journaled too: undo gives the row back under it
        try:
            rowids = {thread_id: fetch_rowid(conn, "threads", {"id": thread_id}) for thread_id in rows}
        finally:
            conn.close()
    for t in wanted:
        plan.considered += 1
        row = rows.get(t.id)
        if row is None or db is None:
            continue
        why = still_there(str(row.get("rollout_path") or ""), ctx)
        if why:
            plan.leave(t.id, why)
            continue
        plan.ops.append(PlannedOp(f"forget {t.id} (its rollout {row['rollout_path']} exists nowhere)",
                                  (RowDelete(str(db), "threads", {"id": t.id}, row, rowids.get(t.id)),),
                                  subject=t.id))
    return plan
