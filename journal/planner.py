"""Plan undo, redo and replay as new operations, from the journal and the real state."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from journal.durability import IOContext
from journal.effects import Effect
from journal.errors import UsageProblem
from journal.index import JournalIndex
from journal.runner import PlannedOp, precheck


@dataclass(frozen=True)
class Conflict:
    op_id: str
    effect: str
    detail: str
    blocking: bool


@dataclass(frozen=True)
class CompensationPlan:
    """What undo, redo or replay would do; `ops` run in order."""

    action: str
    requested: str
    ops: tuple[PlannedOp, ...]
    sources: tuple[str, ...]  # the op each planned op undoes, redoes or replays
    conflicts: tuple[Conflict, ...] = ()
    cascade_needed: tuple[str, ...] = ()
    not_in_effect: tuple[tuple[str, str], ...] = ()
    would_skip: tuple[tuple[str, str], ...] = ()

    @property
    def blocking(self) -> tuple[Conflict, ...]:
        return tuple(c for c in self.conflicts if c.blocking)

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "requested": self.requested,
            "operations": [
                {"source": src, "label": op.label, "action": op.action, "origin": op.origin, "subject": op.subject,
                 "effects": [e.to_json() for e in op.effects], "forced_over": list(op.forced_over)}
                for src, op in zip(self.sources, self.ops, strict=True)
            ],
            "conflicts": [asdict(c) for c in self.conflicts],
            "cascade_needed": list(self.cascade_needed),
            "not_in_effect": [{"op": o, "state": s} for o, s in self.not_in_effect],
            "would_skip": [{"op": o, "reason": r} for o, r in self.would_skip],
        }


def _chosen_for_undo(index: JournalIndex, ref: str) -> tuple[list[str], list[tuple[str, str]]]:
    kind, full = index.resolve(ref)
    if kind == "op":
        if not index.in_effect(full):
            raise UsageProblem(f"operation {full} is {index.state(full)}; there is nothing to undo")
        return [full], []
    ops = index.runs[full].op_ids
    chosen = [o for o in ops if index.in_effect(o)]
    skipped = [(o, index.state(o)) for o in ops if not index.in_effect(o)]
    if not chosen:
        raise UsageProblem(f"run {full} has no operation in effect; there is nothing to undo")
    return chosen, skipped


def plan_undo(index: JournalIndex, ref: str, *, cascade: bool = False) -> CompensationPlan:
    chosen, skipped = _chosen_for_undo(index, ref)
    return _plan_compensation(index, "undo", ref, chosen, skipped, cascade)


def plan_redo(index: JournalIndex, ref: str, *, cascade: bool = False) -> CompensationPlan:
    """Redo is the undo of an undo: find the in-effect compensations and compensate them."""
    kind, full = index.resolve(ref)
    op_ids = [full] if kind == "op" else list(index.runs[full].op_ids)
    chosen: list[str] = []
    skipped: list[tuple[str, str]] = []
    for op_id in op_ids:
        op = index.ops[op_id]
        if op.compensates:
            if index.in_effect(op_id):
                chosen.append(op_id)  # an undo in effect: undoing it redoes its target
            else:  # already redone (a redo that was interrupted did this one): left as it is
                skipped.append((op_id, index.state(op_id)))
            continue
        compensator = index.in_effect_compensator(op_id) if op.outcome == "applied" else None
        if compensator:
            chosen.append(compensator)
        else:
            skipped.append((op_id, index.state(op_id)))
    if not chosen:
        raise UsageProblem(f"{full} is not undone; there is nothing to redo")
    return _plan_compensation(index, "redo", ref, chosen, skipped, cascade)


def _plan_compensation(
    index: JournalIndex,
    action: str,
    ref: str,
    chosen: list[str],
    skipped: list[tuple[str, str]],
    cascade: bool,
) -> CompensationPlan:
    selected = set(chosen)
    later = index.later_touching(selected)
    cascade_needed: tuple[str, ...] = ()
    if later and not cascade:
        cascade_needed = tuple(sorted(later, key=lambda o: index.ops[o].seq))
    while later and cascade:
        selected |= set(later)
        later = index.later_touching(selected)
    ordered = sorted(selected, key=lambda o: index.ops[o].seq, reverse=True)
    io = IOContext()
    try:
        ops, conflicts = _compensations(index, ordered, io)
    finally:
        io.close()
    return CompensationPlan(action, ref, tuple(ops), tuple(ordered), tuple(conflicts), cascade_needed,
                            tuple(skipped))


def _compensations(index: JournalIndex, ordered: list[str], io: IOContext) -> tuple[list[PlannedOp], list[Conflict]]:
    touched: set[str] = set()
    ops: list[PlannedOp] = []
    conflicts: list[Conflict] = []
    for op_id in ordered:
        info = index.ops[op_id]
        inverses: list[Effect] = []
        forced: list[str] = []
        for effect in reversed(index.effects(op_id)):
            targets = set(effect.targets())
            if targets & touched:
                inverses.append(effect.inverse())  # a later op in this plan restores it first
                continue
            touched |= targets
            seen = effect.probe(io)
            if seen.state == "after":
                inverses.append(effect.rebased_inverse(seen))
            elif seen.state == "before":
                detail = "already at its before value; this effect would be left out"
                conflicts.append(Conflict(op_id, effect.describe(), detail, blocking=False))
                forced.append(f"{effect.describe()}: {detail}")
            else:
                blocking = seen.blocking or seen.state == "mid"
                conflicts.append(Conflict(op_id, effect.describe(), seen.detail or seen.state, blocking))
                forced.append(f"{effect.describe()}: {seen.detail}")
                inverses.append(effect.rebased_inverse(seen))
        redoes = index.primary(op_id) if info.compensates else None
        origin = index.origin(op_id)
        label = index.ops[origin].label  # the chain's first label: it never grows
        word = "redo" if index.undoes_origin(op_id) else "undo"  # what it does to that first operation
        ops.append(PlannedOp(label, tuple(inverses), info.subject, compensates=op_id, redoes=redoes,
                             forced_over=tuple(forced), action=word, origin=origin))
    return ops, conflicts


def plan_replay(index: JournalIndex, ref: str) -> CompensationPlan:
    kind, full = index.resolve(ref)
    if kind != "run":
        raise UsageProblem(f"{ref} is an operation; replay takes a run id")
    io = IOContext()
    try:
        ops, would_skip = _replays(index, full, io)
    finally:
        io.close()
    return CompensationPlan("replay", ref, tuple(ops), tuple(index.runs[full].op_ids),
                            would_skip=tuple(would_skip))


def _replays(index: JournalIndex, run_id: str, io: IOContext) -> tuple[list[PlannedOp], list[tuple[str, str]]]:
    ops: list[PlannedOp] = []
    would_skip: list[tuple[str, str]] = []
    for op_id in index.runs[run_id].op_ids:
        info = index.ops[op_id]
        origin = index.origin(op_id)
        label = index.ops[origin].label
        effects = tuple(index.effects(op_id))
        if index.in_effect(op_id):  # its targets may have moved on since (a later op of the run moved the file)
            reason = "already applied: the operation is in effect (never undone)"
            would_skip.append((op_id, reason))
            ops.append(PlannedOp(label, effects, info.subject, replays=op_id, skip_reason=reason, action="replay",
                                 origin=origin))
            continue
        verdict, reason = precheck(effects, io)
        if verdict != "ready":
            would_skip.append((op_id, reason))
        ops.append(PlannedOp(label, effects, info.subject, replays=op_id, action="replay", origin=origin))
    return ops, would_skip
