"""`rewrite-cwd`: move threads to a folder's new name, everywhere Codex reads the cwd.

For each matching thread: the row's `cwd`; the first `session_meta` line's `cwd` and
`runtime_workspace_roots`; every `turn_context` (`cwd`, `workspace_roots`) and
`thread_settings_applied` (`cwd`, `runtime_workspace_roots`) line. Each is a journaled
effect; mtimes are kept and byte offsets stay true. Where the schema has projects (0.152+),
`project_roots.path` too, so the project still holds its threads (checked with 0.171), unless a
thread below the root is left out by the filters.
Matching is by path components (operations/path_spelling.py), never by raw string prefix.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from journal.effects import RowUpdate
from journal.errors import UsageProblem
from journal.runner import PlannedOp
from journal.sqlio import connect_ro
from operations.audit_model import ThreadAudit
from operations.jsonedit import EditRefused, replace_strings
from operations.path_spelling import STYLES, key, rewrite
from operations.repair.plan import Plan
from operations.repair.rollout_edit import RolloutEdit, build_ops, edit_rollouts
from operations.repair.rows import current_rows
from operations.repair.selection import RepairContext, ThreadFilter

# (line type, payload path of a string, payload path of a list of strings)
CWD_FIELDS = {
    "session_meta": ((("cwd",),), (("runtime_workspace_roots",),)),
    "turn_context": ((("cwd",),), (("workspace_roots",), ("runtime_workspace_roots",))),
    "thread_settings_applied": ((("thread_settings", "cwd"),), (("thread_settings", "runtime_workspace_roots"),)),
}


@dataclass(frozen=True)
class Mapping:
    source: str
    target: str

    def apply(self, path: str, style: str) -> str | None:
        return rewrite(path, self.source, self.target, style)


def read_map(text: str) -> list[Mapping]:
    """One pair a line: `FROM<TAB>TO` or `FROM -> TO`; blank lines and # comments are skipped."""
    pairs = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t") if "\t" in line else line.split(" -> ")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise UsageProblem(f"--map line {number}: expected FROM<TAB>TO or FROM -> TO, got {raw!r}")
        pairs.append(Mapping(parts[0].strip(), parts[1].strip()))
    return pairs


def map_path(path: str, mappings: list[Mapping], style: str) -> str | None:
    for mapping in mappings:
        new = mapping.apply(path, style)
        if new is not None:
            return new
    return None


def _rewriter(mappings: list[Mapping], style: str) -> Callable[[Any], Any]:
    def change(value: Any) -> Any:
        if isinstance(value, str):
            return map_path(value, mappings, style) or value
        if isinstance(value, list):
            return [change(v) for v in value]
        return value

    return change


def _edit_line(line: bytes, kind: str, change: Callable[[Any], Any]) -> bytes | None:
    record = orjson.loads(line)
    payload = record.get("payload") if isinstance(record, dict) else None
    if not isinstance(payload, dict):
        return None  # not a line Codex reads a cwd from
    strings, lists = CWD_FIELDS[kind]
    replaced: dict[str, str] = {}
    targets: list[tuple[str, ...]] = []
    for path in (*strings, *lists):
        node: Any = payload
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            continue
        if not (isinstance(node, str) or (isinstance(node, list) and all(isinstance(n, str) for n in node))):
            raise EditRefused(f"{'.'.join(path)} is not a folder as Codex writes it ({type(node).__name__})")
        new = change(node)
        if new != node:
            targets.append(path)
            olds = node if isinstance(node, list) else [node]
            news = new if isinstance(new, list) else [new]
            replaced.update({o: n for o, n in zip(olds, news, strict=True) if o != n})
    if not targets:
        return None

    def mutate(doc: dict[str, Any]) -> None:
        for path in targets:
            node = doc["payload"]
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = change(node[path[-1]])

    return replace_strings(line, replaced, mutate)


def _edit_cwd_lines(edit: RolloutEdit, change: Callable[[Any], Any]) -> None:
    for number, line in enumerate(edit.lines, start=1):
        kind = _line_kind(line, number)
        if kind is not None and line:
            new = _edit_line(line, kind, change)
            if new is not None:
                edit.change(number, new)


def _line_kind(line: bytes, number: int) -> str | None:
    if number == 1:
        return "session_meta"
    if b'"turn_context"' in line:
        return "turn_context"
    if b'"thread_settings_applied"' in line:
        return "thread_settings_applied"
    return None


def plan_rewrite_cwd(ctx: RepairContext, flt: ThreadFilter, mappings: list[Mapping], style: str = "posix") -> Plan:
    if style not in STYLES:
        raise UsageProblem(f"--from-style must be one of {', '.join(STYLES)}")
    if not mappings:
        raise UsageProblem("give --from and --to (repeatable, in pairs) or --map FILE")
    plan = Plan("rewrite-cwd", options={"map": [m.__dict__ for m in mappings], "from_style": style})
    change = _rewriter(mappings, style)
    candidates = [t for t in ctx.selected(flt)
                  if t.facts is not None and map_path(t.facts.cwd, mappings, style) is not None
                  or (t.row is not None and map_path(t.row.cwd, mappings, style) is not None)]
    rows = current_rows(ctx.home, [t.id for t in candidates])
    plan.considered = len(candidates)
    edits = edit_rollouts(ctx, plan, candidates, lambda edit: _edit_cwd_lines(edit, change))
    build_ops(ctx, plan, candidates, edits, rows,
              lambda row: {"cwd": map_path(row["cwd"], mappings, style) or row["cwd"]},
              lambda thread: f"rewrite cwd of {thread}")
    plan.ops += _project_roots(ctx, mappings, style, {t.id for t in candidates}, plan)
    return plan


def _project_roots(ctx: RepairContext, mappings: list[Mapping], style: str, moved: set[str],
                   plan: Plan) -> list[PlannedOp]:
    """A project root follows its folder, so the project still holds its threads (issue 22; checked
    with 0.171's project/list and thread/list). A root is kept where a thread below it stays (the
    filters left it out): the root then still names where that thread is."""
    db = ctx.home.state_db
    if db is None or "project_id" not in ctx.columns:
        return []
    conn = connect_ro(str(db))
    try:
        try:
            roots = conn.execute("SELECT project_id, position, path FROM project_roots").fetchall()
        except sqlite3.OperationalError:
            return []
    finally:
        conn.close()
    ops = []
    for project_id, position, path in roots:
        new = map_path(path, mappings, style)
        if new is None or new == path:
            continue
        root = key(path, style)
        staying = [t.id for t in ctx.report.threads if t.id not in moved and key(_cwd_of(t), style).startswith(root)]
        if staying:
            plan.warnings.append(f"project root {path} is kept: {len(staying)} thread(s) below it are not rewritten "
                                 f"(e.g. {staying[0]})")
        else:
            effect = RowUpdate(str(db), "project_roots", {"project_id": project_id, "position": position},
                               {"path": path}, {"path": new})
            ops.append(PlannedOp(f"rewrite project root {project_id}#{position}", (effect,), subject=project_id))
    return ops


def _cwd_of(t: ThreadAudit) -> str:
    return t.row.cwd if t.row is not None else t.facts.cwd if t.facts is not None else ""
