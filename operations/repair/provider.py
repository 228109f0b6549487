"""`migrate-provider --to ID`: make threads of other providers belong to ID, durably.

Codex re-reads rollouts and writes their provider back into the rows (storage doc 0.3),
so a durable migration changes three places (0.4): the first `session_meta` line's
`model_provider`, `model_provider_id` in every `thread_settings_applied` event, and the
row. Only those bytes change in the file. When a line changes length, the byte offsets
that point into the file are shifted: `thread_history_1.sqlite` projection rows and a
fork's `session_meta.history_base.end_byte_offset`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from journal.effects import Effect, LineRewrite, RowUpdate
from journal.errors import Refused
from journal.runner import PlannedOp
from journal.targets import connect_ro, plan_line_rewrites
from operations.audit import ThreadAudit
from operations.jsonedit import EditRefused, append_to_payload, replace_value
from operations.paths import BUILTIN_PROVIDERS
from operations.repair.common import (
    Plan,
    RepairContext,
    ThreadFilter,
    check_writable_file,
    current_rows,
    row_update,
    single_file,
)
from operations.rollouts import Rollout

DB_ONLY_WARNING = ("--db-only changes only threads.model_provider, as the seed's provider_migrate.py did; "
                   "current Codex re-reads the rollout and writes the old provider back (storage doc 0.3)")


@dataclass
class FileEdit:
    """The new bytes of some lines of one rollout, and how each edit moves later bytes."""

    rollout: Rollout
    data: bytes
    lines: list[bytes]
    starts: list[int]
    new_lines: dict[int, bytes] = field(default_factory=dict)  # 1-based line -> bytes

    @classmethod
    def read(cls, rollout: Rollout) -> FileEdit:
        with open(rollout.path, "rb") as handle:
            data = handle.read()
        lines = data.split(b"\n")
        starts, at = [], 0
        for line in lines:
            starts.append(at)
            at += len(line) + 1
        return cls(rollout, data, lines, starts)

    def line(self, number: int) -> bytes:
        return self.new_lines.get(number, self.lines[number - 1])

    def shift(self, offset: int) -> int:
        """Where a byte offset of the old file lands in the new one."""
        moved = offset
        for number, new in self.new_lines.items():
            if self.starts[number - 1] < offset:
                moved += len(new) - len(self.lines[number - 1])
        return moved

    def effects(self) -> tuple[LineRewrite, ...]:
        return plan_line_rewrites(self.rollout.path, self.new_lines, self.data) if self.new_lines else ()


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _edit_provider_lines(edit: FileEdit, to: str) -> None:
    first = edit.lines[0]
    meta = orjson.loads(first.lstrip(b"\xef\xbb\xbf"))
    if meta.get("type") != "session_meta":
        raise EditRefused("the first line is not a session_meta")
    payload = meta["payload"]
    if "model_provider" not in payload:
        edit.new_lines[1] = append_to_payload(first, "model_provider", to, _set(("payload", "model_provider"), to))
    elif payload["model_provider"] != to:
        edit.new_lines[1] = replace_value(first, "model_provider", payload["model_provider"], to,
                                          _set(("payload", "model_provider"), to))
    for number, line in enumerate(edit.lines[1:], start=2):
        if b'"thread_settings_applied"' not in line:
            continue
        record = orjson.loads(line)
        body = record.get("payload") or {}
        if body.get("type") != "thread_settings_applied":
            continue
        settings = body.get("thread_settings") or {}
        if "model_provider_id" in settings and settings["model_provider_id"] != to:
            edit.new_lines[number] = replace_value(
                line, "model_provider_id", settings["model_provider_id"], to,
                _set(("payload", "thread_settings", "model_provider_id"), to))


def _history_shifts(db: str, conn: sqlite3.Connection, thread_id: str, edit: FileEdit) -> list[Effect]:
    """RowUpdates that keep thread_history_1's byte offsets true after the edit."""
    if not edit.new_lines:
        return []
    effects: list[Effect] = []
    state = conn.execute("SELECT next_rollout_byte_offset FROM thread_history_projection_state "
                         "WHERE thread_id = ?", (thread_id,)).fetchone()
    if state is not None and edit.shift(state[0]) != state[0]:
        effects.append(RowUpdate(str(db), "thread_history_projection_state", {"thread_id": thread_id},
                                 {"next_rollout_byte_offset": state[0]},
                                 {"next_rollout_byte_offset": edit.shift(state[0])}))
    for turn_id, start, end in conn.execute(
            "SELECT turn_id, rollout_byte_offset, rollout_end_byte_offset FROM thread_turns WHERE thread_id = ?",
            (thread_id,)):
        before = {"rollout_byte_offset": start, "rollout_end_byte_offset": end}
        after = {k: (edit.shift(v) if v is not None else None) for k, v in before.items()}
        changed = {k: v for k, v in after.items() if before[k] != v}
        if changed:
            effects.append(RowUpdate(str(db), "thread_turns", {"thread_id": thread_id, "turn_id": turn_id},
                                     {k: before[k] for k in changed}, changed))
    return effects


def check_target(ctx: RepairContext, to: str, force: bool) -> None:
    defined = set(ctx.home.config.providers) | set(BUILTIN_PROVIDERS)
    if to not in defined and not force:
        raise Refused(f"provider `{to}` is not defined in {ctx.home.codex_home / 'config.toml'} "
                      f"(defined: {', '.join(sorted(defined))}); Codex could not resume threads under it. "
                      "Define it first, or pass --force")


def plan_migrate_provider(ctx: RepairContext, flt: ThreadFilter, to: str, *, sources: tuple[str, ...] = (),
                          db_only: bool = False, force: bool = False) -> Plan:
    check_target(ctx, to, force)
    plan = Plan("migrate-provider", options={"to": to, "from": list(sources), "db_only": db_only})
    if db_only:
        plan.warnings.append(DB_ONLY_WARNING)
    candidates: list[ThreadAudit] = []
    for t in ctx.selected(flt):
        providers = {p for p in (t.row.model_provider if t.row else None,
                                 t.facts.provider if t.facts else None) if p}
        if not providers - {to}:
            continue
        if sources and not providers & set(sources):
            continue
        candidates.append(t)
    rows = current_rows(ctx.home, [t.id for t in candidates])
    edits: dict[str, FileEdit] = {}
    for t in candidates:
        plan.considered += 1
        if "active_orphan" in t.problems:
            plan.refuse(t.id, "ACTIVE_ORPHAN: a live session; left alone")
            continue
        if db_only:
            continue
        file, why = single_file(t)
        if file is None:
            plan.refuse(t.id, why or "no file")
            continue
        if file.compressed:
            plan.refuse(t.id, f"{file.path} is compressed; resume it once in Codex (which decompresses it) first")
            continue
        if file.format != "current":
            plan.refuse(t.id, f"{file.path}: the first line is not a readable session_meta ({file.format})")
            continue
        problem = check_writable_file(file.path, ctx.home)
        if problem:
            plan.refuse(t.id, problem)
            continue
        try:
            edit = FileEdit.read(file)
            _edit_provider_lines(edit, to)
        except (EditRefused, orjson.JSONDecodeError) as exc:
            plan.refuse(t.id, f"{file.path}: {exc}")
            continue
        edits[t.id] = edit
    refused = {r.thread for r in plan.refused}
    extra = _fork_offsets(ctx, edits, plan)
    history_db = ctx.home.thread_history_db
    history = connect_ro(str(history_db)) if history_db is not None and edits else None
    try:
        _build_ops(ctx, plan, candidates, refused, edits, extra, rows, to, history)
    finally:
        if history is not None:
            history.close()
    return plan


def _build_ops(ctx: RepairContext, plan: Plan, candidates: list[ThreadAudit], refused: set[str],
               edits: dict[str, FileEdit], extra: dict[str, list[Effect]], rows: dict[str, dict[str, Any]],
               to: str, history: sqlite3.Connection | None) -> None:
    for t in candidates:
        if t.id in refused:
            continue
        effects: list[Effect] = []
        own = edits.get(t.id)
        if own is not None:
            effects += own.effects()
            if history is not None:
                effects += _history_shifts(str(ctx.home.thread_history_db), history, t.id, own)
        effects += extra.get(t.id, [])
        row = rows.get(t.id)
        if row is not None and row["model_provider"] != to:
            effects.append(row_update(ctx.home, t.id, row, {"model_provider": to}))
        if effects:
            plan.ops.append(PlannedOp(f"migrate {t.id} to {to}", tuple(effects), subject=t.id))


def _fork_offsets(ctx: RepairContext, edits: dict[str, FileEdit], plan: Plan) -> dict[str, list[Effect]]:
    """Keep forks' `history_base.end_byte_offset` pointing at the same bytes of a rewritten parent.

    A fork that is itself migrated gets the change in its own first-line edit; otherwise the
    parent's operation carries the fork's line rewrite.
    """
    extra: dict[str, list[Effect]] = {}
    for t in ctx.report.threads:
        for f in t.files:
            base = f.meta.history_base if f.meta else None
            if not base or base.get("thread_id") not in edits or f.compressed:
                continue
            parent = edits[base["thread_id"]]
            old = base.get("end_byte_offset")
            if not isinstance(old, int) or parent.shift(old) == old:
                continue
            new = parent.shift(old)
            mutate = _set(("payload", "history_base", "end_byte_offset"), new)
            try:
                if t.id in edits:
                    child = edits[t.id]
                    child.new_lines[1] = replace_value(child.line(1), "end_byte_offset", old, new, mutate)
                else:
                    child = FileEdit.read(f)
                    child.new_lines[1] = replace_value(child.line(1), "end_byte_offset", old, new, mutate)
                    extra.setdefault(base["thread_id"], []).extend(child.effects())
            except EditRefused as exc:
                plan.warnings.append(f"fork {t.id}: history_base offset not updated: {exc}")
    return extra
