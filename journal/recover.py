"""Settle operations whose intent has no outcome (a crash mid-run), by looking at reality.

All effects at `after`: applied. All at `before`: not applied. A mix: the intent was
durable, so the remaining effects are completed (an interrupted move whose two names link
one file is finished). Anything else is left pending and reported for a human.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from journal import records
from journal.effects import StepHook, effect_from_json
from journal.runner import group_steps
from journal.scan import Pending, read_record_at, scan
from journal.store import JournalWriter

AT_AFTER = ("after", "after_drift")


@dataclass(frozen=True)
class Assessment:
    op_id: str
    run_id: str
    label: str
    verdict: str  # applied, not_applied, finish, stuck
    reason: str
    effect_states: tuple[str, ...]


def assess_pending(path: str) -> tuple[list[Assessment], list[str]]:
    """What recovery would do for each pending op, and which runs never ended."""
    result = scan(path)
    items = [_assess(path, pending) for pending in sorted(result.pending.values(), key=lambda p: p.seq)]
    return items, sorted(result.open_runs, key=lambda r: result.open_runs[r])


def _assess(path: str, pending: Pending) -> Assessment:
    intent = read_record_at(path, pending.offset)
    effects = [effect_from_json(e) for e in intent.get("effects", [])]
    states = [e.probe().state for e in effects]
    label = intent.get("label", "")
    if not effects or all(s in AT_AFTER for s in states):
        return Assessment(pending.op_id, pending.run_id, label, "applied", "every effect is at its after value",
                          tuple(states))
    if all(s == "before" for s in states):
        return Assessment(pending.op_id, pending.run_id, label, "not_applied",
                          "no effect was applied before the interruption", tuple(states))
    if all(s in (*AT_AFTER, "before", "mid") for s in states):
        done = sum(1 for s in states if s in AT_AFTER)
        return Assessment(
            pending.op_id, pending.run_id, label, "finish",
            f"{done} of {len(states)} effects were applied; the intent was durable, so the rest will be completed",
            tuple(states),
        )
    return Assessment(pending.op_id, pending.run_id, label, "stuck",
                      "a target holds neither its before nor its after value; inspect it with `show`",
                      tuple(states))


def apply_recovery(
    writer: JournalWriter, items: list[Assessment], open_runs: list[str], on_step: StepHook | None = None
) -> str:
    """Journal a `recover` run that settles every item it can; returns its run id."""
    step = on_step or (lambda _name: None)
    run_id = writer.services.ids.new_id()
    writer.append(records.run_begin(run_id, "recover", writer.argv, writer.services.tool.version))
    writer.sync()
    for item in items:
        if item.verdict == "stuck":
            continue
        status = "not_applied" if item.verdict == "not_applied" else "applied"
        if item.verdict == "finish":
            _finish(writer.path, item.op_id, step)
        _remove_stale_temps(writer.path, item.op_id)
        writer.append(records.outcome(item.run_id, item.op_id, status, item.reason, recovered_by=run_id))
        writer.sync()
        step("outcome")
    settled = {i.run_id for i in items if i.verdict != "stuck"}
    stuck = {i.run_id for i in items if i.verdict == "stuck"}
    for run in open_runs:
        if run in stuck:
            continue
        writer.append(records.run_end(run, None, "interrupted", {}, recovered_by=run_id, settled=run in settled))
    counts = {"settled": sum(1 for i in items if i.verdict != "stuck"),
              "stuck": sum(1 for i in items if i.verdict == "stuck")}
    writer.append(records.run_end(run_id, "recover", "ok" if not counts["stuck"] else "partial", counts))
    writer.sync()
    return run_id


def _finish(path: str, op_id: str, step: StepHook) -> None:
    pending = scan(path).pending[op_id]
    intent = read_record_at(path, pending.offset)
    effects = [effect_from_json(e) for e in intent.get("effects", [])]
    for unit in group_steps(effects):
        states = [e.probe().state for e in unit.effects]
        if all(s in AT_AFTER for s in states):
            continue
        if len(unit.effects) == 1 and states[0] == "mid":
            unit.effects[0].finish_interrupted()
        else:
            unit.apply(None)
        step("effect")


def _remove_stale_temps(path: str, op_id: str) -> None:
    pending = scan(path).pending.get(op_id)
    if pending is None:
        return
    intent = read_record_at(path, pending.offset)
    for data in intent.get("effects", []):
        for temp in effect_from_json(data).leftovers():
            if os.path.exists(temp):
                os.unlink(temp)
