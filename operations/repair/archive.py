"""`unarchive` and `archive`, as `codex unarchive` and `codex archive` do them.

Unarchive: the file goes back to sessions/YYYY/MM/DD/ (date from its name) and its mtime is
touched; the row gets archived=0, archived_at=NULL, the new rollout_path and updated_at.
Archive: the file goes to the flat archived_sessions/ with its mtime kept; the row gets
archived=1, archived_at=now, the new rollout_path, and updated_at from the file's mtime.
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
    with_updated_at,
    writable_single_file,
)


def plan_archive_change(ctx: RepairContext, flt: ThreadFilter, *, archive: bool) -> Plan:
    plan = Plan("archive" if archive else "unarchive")
    wanted = [t for t in ctx.selected(flt) if t.row is not None and bool(t.row.archived) != archive]
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
        name = os.path.basename(file.plain_path)
        target = canonical_path(ctx.home, name, archived=archive)
        effects: list[Effect] = []
        if archive:
            mtime_ns = os.stat(file.path).st_mtime_ns
            after = {"archived": 1, "archived_at": int(ctx.now.timestamp()), "rollout_path": str(target),
                     **with_updated_at(ctx.columns, mtime_ns // 1_000_000_000, mtime_ns // 1_000_000)}
            touch = None
        else:
            touch = ctx.now_ns
            after = {"archived": 0, "archived_at": None, "rollout_path": str(target),
                     **with_updated_at(ctx.columns, touch // 1_000_000_000, touch // 1_000_000)}
        destination = Path(str(target) + ".zst") if file.compressed else target
        if os.path.abspath(file.path) != str(destination):
            if destination.exists():
                plan.refuse(t.id, f"{destination} already exists")
                continue
            effects.append(move_effect(file, destination, touch))
        effects.append(row_update(ctx.home, t.id, row, after))
        verb = "archive" if archive else "unarchive"
        plan.ops.append(PlannedOp(f"{verb} {t.id}", tuple(effects), subject=t.id))
    return plan
