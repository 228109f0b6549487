"""`relocate-home`: after a home was copied or moved, point rows at the files here.

Every `rollout_path` that lies in OLD_HOME is rewritten to the same relative place in
this home. Rows whose file is missing here are reported and left alone. Without
`--from`, OLD_HOME is inferred from the rows (the part before `/sessions/` or
`/archived_sessions/` of paths outside this home) and the plan shows the inference.
"""

from __future__ import annotations

import os
from collections import Counter

from journal.errors import UsageProblem
from journal.runner import PlannedOp
from operations.path_spelling import home_of_rollout, key
from operations.repair.plan import Plan, Why
from operations.repair.rows import current_rows, row_update
from operations.repair.selection import RepairContext, ThreadFilter
from operations.rollout_io import plain_name


def infer_old_home(ctx: RepairContext) -> tuple[str | None, dict[str, int]]:
    seen: Counter[str] = Counter()
    for t in ctx.report.threads:
        if t.row is None or "rollout_path_outside_home" not in t.problems:
            continue
        old = home_of_rollout(t.row.rollout_path)
        if old:
            seen[old] += 1
    return (seen.most_common(1)[0][0] if seen else None), dict(seen)


def plan_relocate_home(ctx: RepairContext, flt: ThreadFilter, old_home: str | None) -> Plan:
    inferred, candidates = infer_old_home(ctx)
    source = old_home or inferred
    plan = Plan("relocate-home", options={"from": source, "given": old_home is not None,
                                          "inferred_from_rows": candidates})
    if source is None:
        raise UsageProblem("no row points outside this home, and no --from was given; nothing to relocate")
    if old_home is None:
        plan.warnings.append(f"OLD_HOME inferred from the rows: {inferred} ({candidates.get(inferred or '', 0)} "
                             f"row(s)); pass --from to choose another")
    old = key(source)
    home = str(ctx.home.codex_home)
    wanted = [t for t in ctx.selected(flt) if t.row is not None and key(t.row.rollout_path).startswith(old)]
    rows = current_rows(ctx.home, [t.id for t in wanted])
    for t in wanted:
        plan.considered += 1
        row = rows.get(t.id)
        if row is None:
            continue
        rest = key(row["rollout_path"]).spelled[len(old.parts):]
        new = os.path.join(home, *rest)
        if new == row["rollout_path"]:
            continue
        if not (os.path.isfile(plain_name(new)) or os.path.isfile(plain_name(new) + ".zst")):
            there = "is not a file" if os.path.lexists(plain_name(new)) else "is missing here"
            plan.leave(t.id, Why("file_missing", f"{new} {there} (the row points to {row['rollout_path']})"))
            continue
        plan.ops.append(PlannedOp(f"relocate {t.id}", (row_update(ctx.home, t.id, row, {"rollout_path": new}),),
                                  subject=t.id))
    return plan
