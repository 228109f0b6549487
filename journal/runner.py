"""Execute planned operations through the journal, write-ahead.

For each batch: append every intent, fsync once (group commit), then execute each
operation with compare-and-swap and append its outcome. An operation whose targets do not
hold their `before` values is skipped, never half-applied; one that fails midway is rolled
back to `before` before its outcome is written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from journal import records
from journal.durability import IOContext
from journal.effects import Effect, StepHook
from journal.errors import CasFailed, OutsideAllowedRoots, ToolError
from journal.guard import PathGuard
from journal.store import JournalWriter


@dataclass(frozen=True)
class PlannedOp:
    """One unit of undo: its effects run in order, and all apply or none do."""

    label: str
    effects: tuple[Effect, ...]
    subject: str | None = None
    compensates: str | None = None
    redoes: str | None = None
    replays: str | None = None
    forced_over: tuple[str, ...] = ()
    note: dict[str, Any] = field(default_factory=dict)

    def intent_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "label": self.label,
            "effects": [e.to_json() for e in self.effects],
        }
        for name in ("subject", "compensates", "redoes", "replays"):
            value = getattr(self, name)
            if value is not None:
                fields[name] = value
        if self.forced_over:
            fields["forced_over"] = list(self.forced_over)
        if self.note:
            fields["note"] = self.note
        return fields


@dataclass(frozen=True)
class OpResult:
    op_id: str
    label: str
    subject: str | None
    status: str  # applied, skipped, failed
    reason: str = ""


@dataclass(frozen=True)
class RunResult:
    run_id: str
    command: str
    status: str
    ops: tuple[OpResult, ...]
    head: dict[str, Any]

    @property
    def counts(self) -> dict[str, int]:
        return count_outcomes(self.ops)


def count_outcomes(ops: Sequence[OpResult]) -> dict[str, int]:
    counts = {"applied": 0, "skipped": 0, "failed": 0}
    for op in ops:
        counts[op.status] = counts.get(op.status, 0) + 1
    return counts


class RollbackFailed(ToolError):
    """An operation failed midway and could not be put back; `recover` must finish it. Not a
    refusal (exit 3 promises nothing changed): an error."""

    category = "error"
    code = "rollback_failed"


def run_status(counts: dict[str, int]) -> str:
    if counts.get("failed", 0) == 0 and counts.get("skipped", 0) == 0:
        return "ok"
    return "partial" if counts.get("applied", 0) else "nothing_applied"


def execute_run(
    writer: JournalWriter,
    command: str,
    ops: Sequence[PlannedOp],
    *,
    argv: Sequence[str] = (),
    links: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    guard: PathGuard | None = None,
    on_step: StepHook | None = None,
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Journal and execute `ops` as one run; returns what happened to each."""
    return execute_phased_run(writer, command, [lambda: ops], argv=argv, links=links, meta=meta, guard=guard,
                              on_step=on_step, batch_size=batch_size, progress=progress)


def execute_phased_run(
    writer: JournalWriter,
    command: str,
    phases: Sequence[Callable[[], Sequence[PlannedOp]]],
    *,
    argv: Sequence[str] = (),
    links: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    guard: PathGuard | None = None,
    on_step: StepHook | None = None,
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """One run made of phases, each planned only once the previous one is applied and durable
    (a later phase's plan reads the state the earlier ones left), so `undo RUN` takes it whole."""
    step = on_step or (lambda _name: None)
    ids = writer.services.ids
    run_id = ids.new_id()
    writer.append(records.run_begin(run_id, command, argv, writer.services.tool.version, links=links, meta=meta))
    writer.sync()
    step("run_begin")
    results: list[OpResult] = []
    io = IOContext(deferred_sync=True)
    stopped: ToolError | None = None
    try:
        for plan_phase in phases:
            try:
                ops = plan_phase()
            except ToolError as exc:  # a later phase could not be planned: end the run, then say why
                stopped = exc
                break
            _run_batches(writer, run_id, ops, guard, step, batch_size, progress, io, results)
    finally:
        io.close()
    counts = count_outcomes(results)
    status = run_status(counts)
    writer.append(records.run_end(run_id, command, status, counts))
    writer.sync()
    step("run_end")
    if stopped is not None:
        raise stopped
    return RunResult(run_id, command, status, tuple(results), writer.head)


def _run_batches(writer: JournalWriter, run_id: str, ops: Sequence[PlannedOp], guard: PathGuard | None,
                 step: StepHook, batch_size: int, progress: Callable[[int, int], None] | None, io: IOContext,
                 results: list[OpResult]) -> None:
    """Intents of a batch, one fsync, its effects, one flush of the effects, and only then the
    batch's outcomes in one record and one fsync: no outcome can reach the disk before the
    effects it reports (a line appended earlier could be written back first)."""
    ids = writer.services.ids
    for start in range(0, len(ops), max(1, batch_size)):
        batch = ops[start : start + batch_size]
        op_ids = [ids.new_id() for _ in batch]
        for op_id, op in zip(op_ids, batch, strict=True):
            writer.append(records.intent(run_id, op_id, op.intent_fields()))
            step("intent")
        writer.sync()
        step("intents_synced")
        done: list[tuple[str, str, str]] = []
        try:
            for op_id, op in zip(op_ids, batch, strict=True):
                status, reason = _execute_op(op, guard, step, io)
                done.append((op_id, status, reason))
                results.append(OpResult(op_id, op.label, op.subject, status, reason))
                step("outcome")
                if progress:
                    progress(len(results), len(ops))
        finally:  # even when a rollback failed: what was done must be durable, and then recorded
            io.flush()
            step("effects_durable")
            if done:
                writer.append(records.outcomes(run_id, done))
            writer.sync()
            step("outcomes_synced")


def _check_guard(op: PlannedOp, guard: PathGuard | None) -> None:
    if guard is None:
        return
    for effect in op.effects:
        for path in effect.paths():
            guard.check(path)


def precheck(effects: Sequence[Effect], io: IOContext | None = None) -> tuple[str, str]:
    """('ready'|'already'|'blocked', reason): do the targets hold the `before` values?"""
    touched: set[str] = set()
    states: list[str] = []
    problems: list[str] = []
    for effect in effects:
        targets = set(effect.targets())
        if targets & touched:
            states.append("before")  # depends on an earlier effect of this operation
            continue
        touched |= targets
        seen = effect.probe(io)
        states.append(seen.state)
        if seen.state != "before":
            problems.append(f"{effect.describe()}: {seen.detail or 'target is at its after value'}")
    if all(s in ("after", "after_drift") for s in states):
        return "already", "every target already holds its after value"
    if problems:
        return "blocked", "; ".join(problems)
    return "ready", ""


def _execute_op(op: PlannedOp, guard: PathGuard | None, step: StepHook, io: IOContext) -> tuple[str, str]:
    try:
        _check_guard(op, guard)
    except OutsideAllowedRoots as exc:
        return "skipped", exc.message
    # No separate precheck: every step re-checks its own before values (compare-and-swap) and
    # a failed step rolls back the steps already done; only then do we probe to say why.
    done: list[Step] = []
    try:
        for unit in group_steps(op.effects):
            unit.apply(step, io)
            done.append(unit)
            step("effect")
    except (CasFailed, OSError, sqlite3.Error) as exc:
        status = "skipped" if isinstance(exc, CasFailed) else "failed"
        try:
            for unit in reversed(done):
                unit.inverse().apply(None, io)
        except Exception as undo_exc:
            raise RollbackFailed(
                f"operation {op.label!r} failed ({exc}) and could not be rolled back ({undo_exc}); "
                "run `recover`"
            ) from undo_exc
        note = " (rolled back)" if done else ""
        if status == "skipped":
            verdict, reason = precheck(op.effects, io)
            if verdict == "already":
                return "skipped", "already applied: " + reason + note
            if verdict == "blocked":
                return "skipped", "compare-and-swap failed: " + reason + note
        return status, f"{exc}{note}"
    return "applied", ""


@dataclass(frozen=True)
class Step:
    """One atomic unit: effects that share a step key (all row changes in one database, all
    whole-line rewrites of one file), or one effect alone. Its kind applies it."""

    effects: tuple[Effect, ...]

    def apply(self, hook: StepHook | None, io: IOContext | None = None) -> None:
        type(self.effects[0]).apply_step(self.effects, io, hook)

    def inverse(self) -> Step:
        return Step(tuple(e.inverse() for e in reversed(self.effects)))


def group_steps(effects: Sequence[Effect]) -> list[Step]:
    """Effects group by their step key, each group at its first position; keyless ones alone."""
    groups: dict[tuple[str, str], list[Effect]] = {}
    order: list[tuple[str, str] | Effect] = []
    for effect in effects:
        key = effect.step_key()
        if key is None:
            order.append(effect)
            continue
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(effect)
    return [Step(tuple(groups[item])) if isinstance(item, tuple) else Step((item,)) for item in order]
