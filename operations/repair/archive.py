"""`unarchive` and `archive`, as `codex unarchive` and `codex archive` do them.

Unarchive: the file goes back to sessions/YYYY/MM/DD/ (date from its name) and its mtime is
touched; the row gets archived=0, archived_at=NULL, the new rollout_path and updated_at.
Archive: the file goes to the flat archived_sessions/ with its mtime kept; the row gets
archived=1, archived_at=now, the new rollout_path, and updated_at from the file's mtime.
"""

from __future__ import annotations

import os

from journal.runner import PlannedOp
from operations.path_spelling import spelled_like
from operations.repair.plan import Plan
from operations.repair.rollout_files import each_writable, move_to_canonical
from operations.repair.rows import row_update, with_updated_at
from operations.repair.selection import RepairContext, ThreadFilter


def plan_archive_change(ctx: RepairContext, flt: ThreadFilter, *, archive: bool) -> Plan:
    plan = Plan("archive" if archive else "unarchive")
    wanted = [t for t in ctx.selected(flt) if t.row is not None and bool(t.row.archived) != archive]
    for t, row, file in each_writable(ctx, plan, wanted):
        touch = None if archive else ctx.now_ns
        placed = move_to_canonical(ctx, plan, t, file, archived=archive, touch_ns=touch)
        if placed is None:
            continue
        target, effects = placed
        new_path = spelled_like(str(target), row["rollout_path"])
        if archive:
            mtime_ns = os.stat(file.path).st_mtime_ns
            after = {"archived": 1, "archived_at": int(ctx.now.timestamp()), "rollout_path": new_path,
                     **with_updated_at(ctx.columns, mtime_ns // 1_000_000_000, mtime_ns // 1_000_000)}
        else:
            after = {"archived": 0, "archived_at": None, "rollout_path": new_path,
                     **with_updated_at(ctx.columns, ctx.now_ns // 1_000_000_000, ctx.now_ns // 1_000_000)}
        effects.append(row_update(ctx.home, t.id, row, after))
        verb = "archive" if archive else "unarchive"
        plan.ops.append(PlannedOp(f"{verb} {t.id}", tuple(effects), subject=t.id))
    return plan
