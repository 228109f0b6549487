"""The journal's record kinds, defined once: what each line of each kind holds (README "The
journal"). Every writer builds its lines here, so no record lacks a documented field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from journal.store import who


def run_begin(run: str, command: str, argv: Sequence[str], tool_version: str, *,
              links: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"kind": "run_begin", "run": run, "command": command, "argv": list(argv), "tool": tool_version,
            **who(), "links": links or {}, "meta": meta or {}}


def intent(run: str, op: str, fields: dict[str, Any]) -> dict[str, Any]:
    """`fields`: label, subject, effects, and compensates/redoes/replays/forced_over when set."""
    return {"kind": "intent", "run": run, "op": op, **fields}


def outcome(run: str, op: str, status: str, reason: str, *, recovered_by: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"kind": "outcome", "run": run, "op": op, "status": status, "reason": reason}
    if recovered_by is not None:
        record.update(recovered=True, recovered_by=recovered_by)
    return record


def run_end(run: str, command: str | None, status: str, counts: dict[str, int], **extra: Any) -> dict[str, Any]:
    return {"kind": "run_end", "run": run, "command": command, "status": status, "counts": counts, **extra}


def op_state(outcome: str | None, effective: bool, compensated: bool) -> str:
    """An operation's state, derived (never stored): pending, failed, skipped, not applied, in
    effect, undone (a compensation of it is in effect) or redone (it was undone, and that undone)."""
    if outcome is None:
        return "pending"
    if outcome == "not_applied":
        return "not applied"
    if outcome != "applied":
        return outcome
    if not effective:
        return "undone"
    return "redone" if compensated else "in effect"
