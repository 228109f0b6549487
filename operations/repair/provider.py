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
from typing import Any

import orjson

from journal.effects import Effect
from journal.errors import Refused
from journal.runner import PlannedOp
from journal.targets import connect_ro
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
from operations.repair.rollout_edit import FileEdit, fork_offsets, history_shifts, set_path

DB_ONLY_WARNING = ("--db-only changes only threads.model_provider, as the seed's provider_migrate.py did; "
                   "current Codex re-reads the rollout and writes the old provider back (storage doc 0.3)")


def _edit_provider_lines(edit: FileEdit, to: str) -> None:
    first = edit.lines[0]
    meta = orjson.loads(first.lstrip(b"\xef\xbb\xbf"))
    if meta.get("type") != "session_meta":
        raise EditRefused("the first line is not a session_meta")
    payload = meta["payload"]
    if "model_provider" not in payload:
        edit.new_lines[1] = append_to_payload(first, "model_provider", to, set_path(("payload", "model_provider"), to))
    elif payload["model_provider"] != to:
        edit.new_lines[1] = replace_value(first, "model_provider", payload["model_provider"], to,
                                          set_path(("payload", "model_provider"), to))
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
                set_path(("payload", "thread_settings", "model_provider_id"), to))


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
    extra = fork_offsets(ctx, edits, plan)
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
                effects += history_shifts(str(ctx.home.thread_history_db), history, t.id, own)
        effects += extra.get(t.id, [])
        row = rows.get(t.id)
        if row is not None and row["model_provider"] != to:
            effects.append(row_update(ctx.home, t.id, row, {"model_provider": to}))
        if effects:
            plan.ops.append(PlannedOp(f"migrate {t.id} to {to}", tuple(effects), subject=t.id))
