"""`migrate-provider --to ID`: make threads of other providers belong to ID, durably.

Codex re-reads rollouts and writes their provider back into the rows (storage doc 0.3),
so a durable migration changes three places (0.4): the first `session_meta` line's
`model_provider`, `model_provider_id` in every `thread_settings_applied` event, and the
row. Only those bytes change in the file. When a line changes length, the byte offsets
that point into the file are shifted: `thread_history_1.sqlite` projection rows and a
fork's `session_meta.history_base.end_byte_offset`.
"""

from __future__ import annotations

import orjson

from journal.runner import PlannedOp
from operations.audit_model import ThreadAudit
from operations.codex_config import BUILTIN_PROVIDERS
from operations.errors import ProviderUndefined
from operations.jsonedit import EditRefused, append_to_payload, replace_value
from operations.repair.plan import Plan
from operations.repair.rollout_edit import RolloutEdit, build_ops, edit_rollouts, set_path
from operations.repair.rows import current_rows, row_update
from operations.repair.selection import RepairContext, ThreadFilter

DB_ONLY_WARNING = ("--db-only changes only threads.model_provider, as the seed's provider_migrate.py did; "
                   "current Codex re-reads the rollout and writes the old provider back (storage doc 0.3)")


def _edit_provider_lines(edit: RolloutEdit, to: str) -> None:
    first = edit.lines[0]
    meta = orjson.loads(first.lstrip(b"\xef\xbb\xbf"))
    if not isinstance(meta, dict) or meta.get("type") != "session_meta" or not isinstance(meta.get("payload"), dict):
        raise EditRefused("the first line is not a session_meta")
    payload = meta["payload"]
    if not isinstance(payload.get("model_provider", ""), str):
        raise EditRefused("session_meta's model_provider is not a string, as Codex writes it")
    if "model_provider" not in payload:
        edit.change(1, append_to_payload(first, "model_provider", to, set_path(("payload", "model_provider"), to)),
                    "payload.model_provider", None, to)
    elif payload["model_provider"] != to:
        edit.change(1, replace_value(first, "model_provider", payload["model_provider"], to,
                                     set_path(("payload", "model_provider"), to)),
                    "payload.model_provider", payload["model_provider"], to)
    for number, line in enumerate(edit.lines[1:], start=2):
        if b'"thread_settings_applied"' not in line:
            continue
        record = orjson.loads(line)
        body = record.get("payload") if isinstance(record, dict) else None
        if not isinstance(body, dict) or body.get("type") != "thread_settings_applied":
            continue
        settings = body.get("thread_settings")
        if not isinstance(settings, dict):
            raise EditRefused(f"line {number}: thread_settings is not an object, as Codex writes it")
        if "model_provider_id" in settings and settings["model_provider_id"] != to:
            old = settings["model_provider_id"]
            if not isinstance(old, str):
                raise EditRefused(f"line {number}: model_provider_id is not a string, as Codex writes it")
            edit.change(number, replace_value(line, "model_provider_id", old, to,
                                              set_path(("payload", "thread_settings", "model_provider_id"), to)),
                        "payload.thread_settings.model_provider_id", old, to)


def check_target(ctx: RepairContext, to: str, force: bool) -> None:
    defined = set(ctx.home.config.providers) | set(BUILTIN_PROVIDERS)
    if to not in defined and not force:
        raise ProviderUndefined(f"provider `{to}` is not defined in {ctx.home.codex_home / 'config.toml'} "
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
    plan.considered = len(candidates)
    if db_only:  # the seed's method, for comparison: the row alone
        plan.ops = [PlannedOp(f"migrate {t.id} to {to} (row only)",
                              (row_update(ctx.home, t.id, rows[t.id], {"model_provider": to}),), subject=t.id)
                    for t in candidates if t.id in rows and rows[t.id]["model_provider"] != to]
        return plan
    edits = edit_rollouts(ctx, plan, candidates, lambda edit: _edit_provider_lines(edit, to))
    build_ops(ctx, plan, candidates, edits, rows, lambda _row: {"model_provider": to},
              lambda thread: f"migrate {thread} to {to}")
    return plan
