"""`import-orphans`: a rollout with no row gets the row Codex would derive from it.

Live sessions (ACTIVE_ORPHAN: writer lock held, or written in the last minutes) are never
imported. `--via-backfill` instead resets `backfill_state` so Codex rebuilds every row
itself at its next start (storage doc 4.4), journaled like any other change.
"""

from __future__ import annotations

from journal.effects import RowInsert, RowUpdate
from journal.runner import PlannedOp
from journal.sqlio import connect_ro, fetch_row
from operations.extract import derive_row
from operations.repair.plan import Plan, Why
from operations.repair.rollout_files import single_file
from operations.repair.selection import RepairContext, ThreadFilter

# 0.128 (migration 29) rows hold the legacy sandbox policy; 0.144 (40) and 0.169 (62) the permission
# profile. The change (#23165) landed between them; 0.140 (37) is the first release we treat as new.
PERMISSION_PROFILE_MIGRATION = 37


def plan_import_orphans(ctx: RepairContext, flt: ThreadFilter, *, via_backfill: bool = False) -> Plan:
    plan = Plan("import-orphans", options={"via_backfill": via_backfill})
    db = ctx.home.state_db
    assert db is not None
    orphans = [t for t in ctx.selected(flt) if t.row is None]
    ready = []
    for t in orphans:
        plan.considered += 1
        if "active_orphan" in t.problems:
            plan.leave(t.id, Why("active_orphan", "ACTIVE_ORPHAN: a live session (writer lock held or written "
                                 "in the last minutes); never imported"))
            continue
        file, why = single_file(t)
        if file is None:
            plan.leave(t.id, why or Why("no_file", "no file"))
            continue
        if file.format != "current" or file.meta is None:
            plan.leave(t.id, Why("unreadable_rollout", f"{file.path}: the first line is not a readable "
                                 f"session_meta ({file.format})"))
            continue
        if file.meta.id and file.meta.id.lower() != t.id:
            plan.leave(t.id, Why("meta_id_mismatch", f"{file.path}: session_meta.id {file.meta.id} differs from "
                                 "the id in the name"))
            continue
        if file.location not in ("dated", "archived"):
            plan.leave(t.id, Why("flat_layout", f"{file.path} is in the {file.location} layout, which Codex does "
                                 "not list; move it to sessions/YYYY/MM/DD/ first"))
            continue
        ready.append((t, file))
    if via_backfill:
        if ready:
            conn = connect_ro(str(db))
            try:
                current = fetch_row(conn, "backfill_state", {"id": 1})
            finally:
                conn.close()
            if current is None:
                plan.warnings.append("no backfill_state row: Codex inserts a pending one at its next start")
            else:
                after = {"status": "pending", "last_watermark": None}
                plan.ops.append(PlannedOp(
                    f"reset backfill_state so Codex rebuilds rows ({len(ready)} orphan(s))",
                    (RowUpdate(str(db), "backfill_state", {"id": 1},
                               {k: current.get(k) for k in after}, after),), subject="backfill_state"))
        return plan
    for t, file in ready:
        level = ctx.report.schema.max_migration if ctx.report.schema else None
        try:
            row = derive_row(file, ctx.columns, ctx.home.config.model_provider, file.location == "archived",
                             permission_profile_rows=(level or 0) >= PERMISSION_PROFILE_MIGRATION)
        except (OSError, ValueError) as exc:  # gone since the audit, or a compressed file too large to read
            plan.leave(t.id, Why("unreadable", f"{file.path}: {exc}"))
            continue
        plan.ops.append(PlannedOp(f"import {t.id}", (RowInsert(str(db), "threads", {"id": t.id}, row),),
                                  subject=t.id))
    return plan
