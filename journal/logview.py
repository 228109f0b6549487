"""`log`: runs and operations newest first, streamed from the end of the file.

Reading backwards, every operation's outcome and later undos are met before its intent,
so its state is known when it is emitted, with memory bounded by what is in flight.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from journal.codec import decode_line, line_hash
from journal.effects import json_targets
from journal.records import op_state

BLOCK = 1 << 20


def iter_lines_reversed(path: str) -> Iterator[bytes]:
    """Complete lines from last to first; a torn last line (no newline) is skipped."""
    with open(path, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        position = end
        carry = b""
        first = True
        while position > 0:
            size = min(BLOCK, position)
            position -= size
            handle.seek(position)
            chunk = handle.read(size) + carry
            parts = chunk.split(b"\n")
            carry = parts[0]
            tail = parts[1:]
            if first:
                first = False
                tail = tail[:-1]  # after the last newline: empty, or a torn line
            for line in reversed(tail):
                if line:
                    yield line
        if carry and end > 0:
            yield carry


@dataclass
class LogHealth:
    """What the streamed lines said of the hash chain (only the part read, with --limit)."""

    damaged_at_seq: int | None = None  # the newest line whose successor does not chain to it
    unreadable_lines: int = 0

    @property
    def ok(self) -> bool:
        return self.damaged_at_seq is None and self.unreadable_lines == 0


@dataclass
class _Comp:
    """Compensating operations seen so far (they come after their target in the file)."""

    in_effect: bool


def iter_log(
    path: str,
    *,
    run: str | None = None,
    op: str | None = None,
    target: str | None = None,
    limit: int | None = None,
    health: LogHealth | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield {'type': 'run'|'op', ...} newest first, filtered; the hash chain is checked on the
    way (each line's hash against the `prev` of the line after it) into `health`."""
    outcomes: dict[str, dict[str, Any]] = {}
    compensations: dict[str, list[bool]] = {}  # op id -> in-effect flags of its compensators
    runs_shown: set[str] = set()
    emitted = 0
    expected_prev: str | None | bool = False  # False: no newer line seen yet
    for line in iter_lines_reversed(path):
        try:
            record = decode_line(line)
        except ValueError:
            if health is not None:
                health.unreadable_lines += 1
            expected_prev = False
            continue
        if health is not None:
            if expected_prev is not False and expected_prev != line_hash(line) and health.damaged_at_seq is None:
                health.damaged_at_seq = record.get("seq")
            expected_prev = record.get("prev")
        kind = record.get("kind")
        if kind == "outcome":
            outcomes[record["op"]] = record
        elif kind == "run_end" and record.get("command"):
            if _run_wanted(record["run"], run, op, target):
                runs_shown.add(record["run"])
                yield _run_item(record, ended=True)
        elif kind == "run_begin":
            if record["run"] not in runs_shown and _run_wanted(record["run"], run, op, target) and not op:
                yield _run_item(record, ended=False)
            runs_shown.discard(record["run"])
        elif kind == "intent":
            op_id = record["op"]
            outcome = outcomes.pop(op_id, None)
            comps = compensations.pop(op_id, [])
            status = outcome.get("status") if outcome else None
            effective = status == "applied" and not any(comps)
            if record.get("compensates"):
                compensations.setdefault(record["compensates"], []).append(effective)
            if run and not record["run"].startswith(run):
                continue
            if op and not op_id.startswith(op):
                continue
            targets = _targets(record)
            if target and not any(target in t for t in targets):
                continue
            yield _op_item(record, outcome, op_state(status, effective, bool(comps)), targets)
            emitted += 1
            if limit is not None and emitted >= limit:
                return


def _run_wanted(run_id: str, run: str | None, op: str | None, target: str | None) -> bool:
    if run and not run_id.startswith(run):
        return False
    return not (op or target) or bool(run)


def _targets(record: dict[str, Any]) -> list[str]:
    return [t for effect in record.get("effects", []) for t in json_targets(effect)]


def _run_item(record: dict[str, Any], *, ended: bool) -> dict[str, Any]:
    return {
        "type": "run",
        "run": record["run"],
        "ts": record.get("ts"),
        "command": record.get("command"),
        "status": record.get("status") if ended else "interrupted",
        "counts": record.get("counts", {}),
    }


def _op_item(record: dict[str, Any], outcome: dict[str, Any] | None, state: str, targets: list[str]) -> dict[str, Any]:
    item = {
        "type": "op",
        "op": record["op"],
        "run": record["run"],
        "ts": record.get("ts"),
        "label": record.get("label", ""),
        "subject": record.get("subject"),
        "state": state,
        "effects": len(record.get("effects", [])),
        "targets": targets,
        "reason": outcome.get("reason", "") if outcome else "",
    }
    for link in ("compensates", "redoes", "replays"):
        if record.get(link):
            item[link] = record[link]
    return item
