"""Settle operations whose intent has no outcome (a crash mid-run), by looking at reality.

Pending operations are judged as the sequence they were run in, not one by one: operations
that share a target (a file moved by one and edited by the next, a row two of them change)
form a group, judged together.

* An operation alone: all effects at `after`, applied; all at `before`, not applied; a mix,
  the intent was durable, so the rest is completed (a move interrupted between link and
  unlink is finished).
* A group: if every target holds what the group's last effect on it writes, all applied;
  if every target holds what the first effect on it expects, none applied. Otherwise the
  group is walked back, newest effect first: each effect at `after` is taken back (a move
  left with both names loses the new one), so that each earlier effect is judged against
  the state it actually left. A target that holds neither value of an effect is explained
  when an earlier effect of the group touches it (that earlier one did not happen, so this
  one could not). Then, oldest first, every operation that had begun is done again whole,
  with compare-and-swap; one that cannot be is left rolled back. So every operation ends
  applied or not applied, and each as a whole.
* A target that holds a value no effect of the journal wrote (`foreign`) is never guessed
  over: its operation's own changes are taken back, it is reported, the rest is settled, and
  `accept` records it as `abandoned`, with what every target holds now (digests, values), so
  writes can go on.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from journal import records
from journal.clock import ToolInfo
from journal.effects import Effect, StepHook, effect_from_json
from journal.errors import CasFailed, Interrupted, IOFailure, io_failure, io_problem
from journal.interrupt import STOP
from journal.runner import PlannedOp, Step, group_steps
from journal.scan import Pending, read_record_at, scan
from journal.store import JournalWriter

AT_AFTER = ("after", "after_drift")
SETTLED_AS = {"applied": "applied", "finish": "applied", "completed": "applied", "not_applied": "not_applied",
              "rolled_back": "not_applied", "accepted": "abandoned"}


@dataclass(frozen=True)
class Assessment:
    op_id: str
    run_id: str
    label: str
    verdict: str  # applied, not_applied, finish, sequence (dry run) | completed, rolled_back, foreign, accepted
    reason: str
    effect_states: tuple[str, ...]
    group: int = 0  # operations judged together share a group number
    accepted: tuple[dict[str, Any], ...] = ()  # what each target held when a foreign value was accepted


@dataclass
class PendingOp:
    pending: Pending
    label: str
    effects: list[Effect]

    @property
    def op_id(self) -> str:
        return self.pending.op_id


@dataclass
class Group:
    number: int
    ops: list[PendingOp] = field(default_factory=list)


@dataclass(frozen=True)
class PendingState:
    """What a crash left: each pending operation with what recovery would do to it, the runs
    that never ended, and the pending operations as planned ones (for the roots and the gate)."""

    items: tuple[Assessment, ...]
    open_runs: tuple[str, ...]
    ops: tuple[PlannedOp, ...]


def assess_pending(path: str) -> PendingState:
    """What recovery would do for each pending op (read-only), and which runs never ended."""
    result = scan(path)
    items: list[Assessment] = []
    ops: list[PlannedOp] = []
    for group in pending_groups(path, result.pending.values()):
        items += _assess_group(group)
        ops += [PlannedOp(op.label, tuple(op.effects)) for op in group.ops]
    return PendingState(tuple(items), tuple(sorted(result.open_runs, key=lambda r: result.open_runs[r])), tuple(ops))


def pending_groups(path: str, pending: Iterable[Pending]) -> list[Group]:
    """Pending operations in journal order, grouped by shared targets (union of overlaps)."""
    ops = []
    for p in sorted(pending, key=lambda p: p.seq):
        intent = read_record_at(path, p.offset)
        label = records.titled(intent.get("label", ""), intent.get("action"))
        ops.append(PendingOp(p, label, [effect_from_json(e) for e in intent.get("effects", [])]))
    parent = list(range(len(ops)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for index, op in enumerate(ops):
        for effect in op.effects:
            for target in effect.targets():
                if target in owner:
                    parent[root(index)] = root(owner[target])
                else:
                    owner[target] = index
    groups: dict[int, Group] = {}
    for index, op in enumerate(ops):
        key = root(index)
        if key not in groups:
            groups[key] = Group(len(groups) + 1)
        groups[key].ops.append(op)
    return list(groups.values())


def _flat(group: Group) -> list[tuple[PendingOp, Effect]]:
    return [(op, effect) for op in group.ops for effect in op.effects]


def _ends(flat: Sequence[tuple[PendingOp, Effect]], *, last: bool) -> list[Effect]:
    """The effects no later (last=True) or no earlier (last=False) effect shares a target with."""
    seen: set[str] = set()
    chosen = []
    for _, effect in (reversed(flat) if last else flat):
        targets = set(effect.targets())
        if not targets & seen:
            chosen.append(effect)
        seen |= targets
    return chosen


def _assess_group(group: Group) -> list[Assessment]:
    if len(group.ops) == 1:
        return [_assess_alone(group.ops[0], group.number)]
    flat = _flat(group)
    if all(e.probe().state in AT_AFTER for e in _ends(flat, last=True)):
        verdict, reason = "applied", (f"judged with {len(group.ops) - 1} other operation(s) on the same targets: "
                                      "every target holds what the last of them wrote")
    elif all(e.probe().state == "before" for e in _ends(flat, last=False)):
        verdict, reason = "not_applied", (f"judged with {len(group.ops) - 1} other operation(s) on the same "
                                          "targets: every target holds what the first of them expected")
    else:
        verdict, reason = "sequence", (f"interrupted amid {len(group.ops)} operations on the same targets: each is "
                                       "taken back newest first, then those that had begun are done again in "
                                       "order, whole")
    return [Assessment(op.op_id, op.pending.run_id, op.label, verdict, reason, (), group.number) for op in group.ops]


def _assess_alone(op: PendingOp, number: int) -> Assessment:
    states = tuple(e.probe().state for e in op.effects)
    base = (op.op_id, op.pending.run_id, op.label)
    if not op.effects or all(s in AT_AFTER for s in states):
        return Assessment(*base, "applied", "every effect is at its after value", states, number)
    if all(s == "before" for s in states):
        return Assessment(*base, "not_applied", "no effect was applied before the interruption", states, number)
    if all(s in (*AT_AFTER, "before", "mid") for s in states):
        done = sum(1 for s in states if s in AT_AFTER)
        return Assessment(*base, "finish",
                          f"{done} of {len(states)} effects were applied; the intent was durable, so the rest "
                          "will be completed", states, number)
    return Assessment(*base, "sequence", "a target holds neither its before nor its after value: its effects are "
                      "walked back in order to tell whether an earlier one explains it", states, number)


@dataclass(frozen=True)
class RecoveryRun:
    run_id: str
    items: tuple[Assessment, ...]  # as settled (foreign ones left pending unless accepted)
    interrupted: bool = False


def apply_recovery(writer: JournalWriter, open_runs: Sequence[str], on_step: StepHook | None = None, *,
                   accept: Sequence[str] = (), meta: dict[str, Any] | None = None) -> RecoveryRun:
    """Journal a `recover` run that settles every pending operation it can, group by group, and
    records `accept`ed foreign ones as abandoned; returns its run id and the verdicts. `meta`:
    what the run records besides (what the caller's gate returned)."""
    step = on_step or (lambda _name: None)
    with STOP.deferred():
        run_id = writer.services.ids.new_id()
        writer.append(records.run_begin(run_id, "recover", writer.argv, writer.services.tool.version, meta=meta))
        writer.sync()
        settled: list[Assessment] = []
        stopped = False
        try:
            for group in pending_groups(writer.path, scan(writer.path).pending.values()):
                if STOP.requested():
                    stopped = True
                    break
                for item in _settle(group, step, accept, writer.services.tool):
                    settled.append(item)
                    _remove_stale_temps(next(op for op in group.ops if op.op_id == item.op_id))
                    if item.verdict == "foreign":
                        continue
                    record = records.outcome(item.run_id, item.op_id, SETTLED_AS[item.verdict], item.reason,
                                             recovered_by=run_id)
                    if item.accepted:
                        record["accepted"] = list(item.accepted)
                    writer.append(record)
                writer.sync()
                step("outcome")
        except (IOFailure, OSError, sqlite3.Error) as exc:
            if isinstance(exc, (OSError, sqlite3.Error)) and not io_problem(exc):
                raise
            what = (f"{sum(1 for i in settled if i.verdict != 'foreign')} operation(s) were settled and recorded; "
                    f"the rest stay pending, each group as it was or partly walked back, which the next recovery "
                    f"judges the same way: once the disk has room (or works) again, run "
                    f"`{writer.services.tool.command('recover', apply=True)}` again")
            if isinstance(exc, IOFailure):
                raise IOFailure(exc.message.split(". ")[0] + ". " + what, details=exc.details) from None
            raise io_failure(exc, "recover: writing", what) from None
        unsettled = {p.run_id for p in scan(writer.path).pending.values()}  # foreign ones, or groups not reached
        for run in open_runs:
            if run not in unsettled:
                writer.append(records.run_end(run, None, "interrupted", {}, recovered_by=run_id, settled=True))
        counts = {"settled": sum(1 for i in settled if i.verdict != "foreign"),
                  "foreign": sum(1 for i in settled if i.verdict == "foreign")}
        status = "interrupted" if stopped else "ok" if not counts["foreign"] else "partial"
        writer.append(records.run_end(run_id, "recover", status, counts))
        writer.sync()
        STOP.ended_run = run_id
    if stopped:
        pending = len(scan(writer.path).pending)
        raise Interrupted(f"recover interrupted by {STOP.signal} between operations: {counts['settled']} settled and "
                          f"recorded, {pending} still pending. To go on: "
                          f"`{writer.services.tool.command('recover', apply=True)}`",
                          details={"run": run_id, "counts": counts, "pending": pending})
    return RecoveryRun(run_id, tuple(settled))


def _settle(group: Group, step: StepHook, accept: Sequence[str], tool: ToolInfo) -> list[Assessment]:
    """Bring every operation of one group to applied or not applied (or report it foreign)."""
    if len(group.ops) == 1:
        alone = _assess_alone(group.ops[0], group.number)
        if alone.verdict in ("applied", "not_applied"):
            return [alone]
        if alone.verdict == "finish":
            try:
                _finish(group.ops[0].effects, step)
                return [alone]
            except CasFailed:
                pass  # changed meanwhile: judged step by step below
    else:
        quick = _assess_group(group)
        if quick[0].verdict != "sequence":
            return quick
    return _settle_in_sequence(group, step, accept, tool)


def _settle_in_sequence(group: Group, step: StepHook, accept: Sequence[str],
                        tool: ToolInfo) -> list[Assessment]:
    flat = _flat(group)
    begun: set[str] = set()
    foreign: dict[str, str] = {}
    states: dict[str, list[str]] = {op.op_id: [] for op in group.ops}
    for index in range(len(flat) - 1, -1, -1):  # newest effect first
        op, effect = flat[index]
        seen = effect.probe()
        states[op.op_id].insert(0, seen.state)
        if seen.state == "mid":
            effect.rollback_interrupted()
            begun.add(op.op_id)
        elif seen.state == "after":
            try:
                Step((effect.inverse(),)).apply(None)
            except CasFailed as exc:
                foreign.setdefault(op.op_id, f"{effect.describe()}: cannot be taken back ({exc})")
            begun.add(op.op_id)
        elif seen.state != "before":
            targets = set(effect.targets())
            if not any(targets & set(earlier.targets()) for _, earlier in flat[:index]):
                foreign.setdefault(op.op_id, f"{effect.describe()}: {seen.detail or seen.state}")
        step("effect")
    others = f"with {len(group.ops) - 1} other operation(s) on the same targets" if len(group.ops) > 1 else "alone"
    out: list[Assessment] = []
    for op in group.ops:
        base = (op.op_id, op.pending.run_id, op.label)
        effect_states = tuple(states[op.op_id])
        if op.op_id in foreign:
            out.append(_foreign(op, foreign[op.op_id], effect_states, group.number, accept, tool))
        elif op.op_id not in begun:
            out.append(Assessment(*base, "not_applied", f"judged in sequence {others}: it had not begun",
                                  effect_states, group.number))
        else:
            problem = _redo_whole(op.effects, step)
            if problem is None:
                out.append(Assessment(*base, "completed", f"judged in sequence {others}: it had begun, and was "
                                      "done again whole", effect_states, group.number))
            else:
                out.append(Assessment(*base, "rolled_back", f"judged in sequence {others}: it had begun but "
                                      f"cannot be completed ({problem}), so it was taken back", effect_states,
                                      group.number))
    return out


def _foreign(op: PendingOp, detail: str, states: tuple[str, ...], number: int,
             accept: Sequence[str], tool: ToolInfo) -> Assessment:
    base = (op.op_id, op.pending.run_id, op.label)
    if any(op.op_id.startswith(a.lower()) for a in accept if len(a) >= 4) or "all" in accept:
        held = tuple({"effect": e.describe(), "state": p.state, "detail": p.detail, "now": p.observed}
                     for e, p in ((e, e.probe()) for e in op.effects))
        return Assessment(*base, "accepted", f"a target held a value this journal never wrote ({detail}); accepted "
                          "as it is and recorded as abandoned (what every target holds is recorded)", states, number,
                          held)
    accept_it = tool.command("recover", apply=True, accept=op.op_id)
    return Assessment(*base, "foreign", f"a target holds a value this journal never wrote: {detail}. Its own "
                      f"changes were taken back. Inspect it (`{tool.command('show', op.op_id)}`), then `{accept_it}` "
                      "records it as abandoned, keeping what the target holds", states, number)


def _redo_whole(effects: Sequence[Effect], step: StepHook) -> str | None:
    """Apply an operation again from its before state, step by step; on a compare-and-swap
    failure, take back its steps done and say why (None when it was done whole)."""
    done: list[Step] = []
    try:
        for unit in group_steps(effects):
            unit.apply(None)
            done.append(unit)
            step("effect")
    except CasFailed as exc:
        for unit in reversed(done):
            unit.inverse().apply(None)
        return str(exc)
    return None


def _finish(effects: Sequence[Effect], step: StepHook) -> None:
    for unit in group_steps(effects):
        states = [e.probe().state for e in unit.effects]
        if all(s in AT_AFTER for s in states):
            continue
        if len(unit.effects) == 1 and states[0] == "mid":
            unit.effects[0].finish_interrupted()
        else:
            unit.apply(None)
        step("effect")


def _remove_stale_temps(op: PendingOp) -> None:
    for effect in op.effects:
        for temp in effect.leftovers():
            if os.path.exists(temp):
                os.unlink(temp)
