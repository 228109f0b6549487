"""The journal's record kinds, defined once: what each line of each kind holds (see
docs/journal-format.md). Every writer builds its lines here, so no record lacks a documented field."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from typing import Any

from journal.platform import current_user


def who() -> dict[str, Any]:
    """The user, host and pid a run records, as dnf and apt record them."""
    return {"user": current_user(), "host": socket.gethostname(), "pid": os.getpid()}


def run_begin(run: str, command: str, argv: Sequence[str], tool_version: str, *,
              links: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"kind": "run_begin", "run": run, "command": command, "argv": list(argv), "tool": tool_version,
            **who(), "links": links or {}, "meta": meta or {}}


def intent(run: str, op: str, fields: dict[str, Any]) -> dict[str, Any]:
    """`fields`: label, subject, effects, and compensates/redoes/replays/action/origin/forced_over when set."""
    return {"kind": "intent", "run": run, "op": op, **fields}


def outcome(run: str, op: str, status: str, reason: str, *, recovered_by: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"kind": "outcome", "run": run, "op": op, "status": status, "reason": reason}
    if recovered_by is not None:
        record.update(recovered=True, recovered_by=recovered_by)
    return record


def outcomes(run: str, results: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    """The outcomes of a batch of operations, written once its effects are durable: per op its
    id, status and (when there is one) reason."""
    return {"kind": "outcomes", "run": run,
            "results": [{"op": op, "status": status, **({"reason": reason} if reason else {})}
                        for op, status, reason in results]}


def results_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-operation outcomes a record holds: one for `outcome` (recover, and formats 1 and
    2), several for `outcomes`; none for other kinds."""
    kind = record.get("kind")
    if kind == "outcome":
        return [record]
    if kind == "outcomes":
        return [r for r in record.get("results", []) if isinstance(r, dict)]
    return []


def run_end(run: str, command: str | None, status: str, counts: dict[str, int], **extra: Any) -> dict[str, Any]:
    return {"kind": "run_end", "run": run, "command": command, "status": status, "counts": counts, **extra}


ACTIONS = ("undo", "redo", "replay")


def titled(label: str, action: str | None) -> str:
    """An operation as people read it: `undo of LABEL` for an undo (redo, replay), whose label is
    the one its chain began with; the label alone otherwise. Journals written before the action
    was recorded hold labels with the actions piled up (`undo: redo: LABEL`): shown as they are."""
    return f"{action} of {label}" if action else label


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
