"""Execute planned operations through the journal, write-ahead.

For each batch: append every intent, fsync once (group commit), then execute each
operation with compare-and-swap and append its outcome. An operation whose targets do not
hold their `before` values is skipped, never half-applied; one that fails midway is rolled
back to `before` before its outcome is written.

A run stops early, at an operation boundary, when SIGINT or SIGTERM asks it to (see
`journal.interrupt`) or when the disk refuses a write (no space, an I/O error, a read-only
file system, a permission): the operation that met the error is rolled back, what was done
is made durable and recorded, the rest of the batch is recorded as not started, the run is
ended, and `Interrupted` or `IOFailure` says what was done, what was not, and how to go on or
take it back. When the journal itself can no longer be written (or the batch's effects not
made durable), the batch's operations stay pending and the message points to `recover`.
"""

from __future__ import annotations

import shlex
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from journal import records
from journal.clock import ToolInfo
from journal.durability import IOContext
from journal.effects import Effect, StepHook
from journal.errors import CasFailed, Interrupted, IOFailure, OutsideAllowedRoots, ToolError, io_failure, io_problem
from journal.guard import PathGuard
from journal.interrupt import STOP
from journal.records import titled
from journal.store import JournalWriter


@dataclass(frozen=True)
class PlannedOp:
    """One unit of undo: its effects run in order, and all apply or none do. An undo, redo or
    replay keeps the label of the operation its chain began with and names itself in `action`,
    so labels never grow with each round."""

    label: str
    effects: tuple[Effect, ...]
    subject: str | None = None
    compensates: str | None = None
    redoes: str | None = None
    replays: str | None = None
    forced_over: tuple[str, ...] = ()
    note: dict[str, Any] = field(default_factory=dict)
    skip_reason: str | None = None  # known at planning to need nothing (replay of what is in effect)
    action: str | None = None  # undo, redo or replay; None for an operation of its own
    origin: str | None = None  # with an action: the operation the chain began with, whose label this is

    @property
    def title(self) -> str:
        """How people read it: `undo of LABEL`, or the label."""
        return titled(self.label, self.action)

    def intent_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "label": self.label,
            "effects": [e.to_json() for e in self.effects],
        }
        for name in ("subject", "compensates", "redoes", "replays", "action", "origin"):
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
    action: str | None = None  # undo, redo or replay (see PlannedOp)
    already: bool = False  # skipped because every target already held its after value (or was in effect)

    @property
    def title(self) -> str:
        """How people read it: `undo of LABEL`, or the label."""
        return titled(self.label, self.action)


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
    with STOP.deferred():
        ids = writer.services.ids
        run_id = ids.new_id()
        try:
            writer.append(records.run_begin(run_id, command, argv, writer.services.tool.version, links=links,
                                            meta=meta))
            writer.sync()
        except IOFailure as exc:
            raise IOFailure(exc.message.split(". ")[0] + ". Nothing was changed; once the disk has room (or "
                            "works) again, run the command again", details=exc.details) from None
        step("run_begin")
        results: list[OpResult] = []
        io = IOContext(deferred_sync=True)
        stopped: ToolError | None = None
        halt: Halt | None = None
        phases_left = 0
        try:
            for number, plan_phase in enumerate(phases):
                if STOP.requested():
                    halt = Halt(signal=STOP.signal)
                if halt is not None:
                    phases_left = len(phases) - number
                    break
                try:
                    ops = plan_phase()
                except ToolError as exc:  # a later phase could not be planned: end the run, then say why
                    stopped = exc
                    break
                halt = _run_batches(writer, run_id, ops, guard, step, batch_size, progress, io, results)
                if halt is not None:
                    phases_left = len(phases) - number - 1
        except (IOFailure, OSError, sqlite3.Error) as exc:
            if isinstance(exc, (OSError, sqlite3.Error)) and not io_problem(exc):
                raise
            raise _left_pending(exc, writer, run_id, argv) from None
        finally:
            io.close()
        counts = count_outcomes(results)
        status = "interrupted" if halt is not None else run_status(counts)
        try:
            writer.append(records.run_end(run_id, command, status, counts))
            writer.sync()
        except IOFailure as exc:
            if halt is None or halt.error is None:
                raise _left_pending(exc, writer, run_id, argv, ended=True) from None
        STOP.ended_run = run_id
        step("run_end")
        result = RunResult(run_id, command, status, tuple(results), writer.head)
        if halt is not None:
            raise halt.as_error(result, writer.services.tool, argv, phases_left)
        if stopped is not None:
            raise stopped
        return result


@dataclass(frozen=True)
class Halt:
    """Why a run stopped before its end: a signal, or the disk refusing a write."""

    signal: str | None = None
    error: BaseException | None = None
    label: str = ""
    where: str = ""  # the file the disk refused (a database has no name in SQLite's errors)

    def as_error(self, result: RunResult, tool: ToolInfo, argv: Sequence[str], phases_left: int) -> ToolError:
        counts = result.counts
        not_started = counts.get("not_applied", 0)
        unplanned = f"; {phases_left} later phase(s) were not planned" if phases_left else ""
        again = f"{tool.name} {shlex.join(argv)}" if argv else f"the {result.command} command again"
        undo = tool.command("undo", result.run_id, apply=True)
        done = (f"{counts['applied']} operation(s) applied and recorded, {counts['skipped']} skipped, "
                f"{counts['failed']} failed, {not_started} not started{unplanned}")
        details = {"run": result.run_id, "counts": counts, "go_on": again,
                   "undo": undo if counts["applied"] else None}
        take_back = f" To take back what was done: `{undo}`." if counts["applied"] else ""
        if self.error is None:
            return Interrupted(f"interrupted by {self.signal} at an operation boundary: {done} (run {result.run_id}). "
                               f"The journal is consistent: nothing to recover. To do the rest: `{again}`."
                               + take_back, details=details)
        failure = io_failure(self.error, f"operation {self.label!r}: writing"
                             + ("" if getattr(self.error, "filename", None) else f" {self.where}"), "")
        return IOFailure(f"{failure.message.rstrip('. ')}. The run stopped there; that operation was rolled back: "
                         f"{done} (run {result.run_id}). Free space (or fix the disk), then do the rest with "
                         f"`{again}`." + take_back, details={**failure.details, **details})


def _where(error: BaseException, op: PlannedOp) -> str:
    named = getattr(error, "filename", None)
    if named:
        return str(named)
    return next((path for effect in op.effects if effect.step_key() for path in effect.paths()), "")


def _left_pending(exc: BaseException, writer: JournalWriter, run_id: str, argv: Sequence[str], *,
                  ended: bool = False) -> IOFailure:
    """The journal could not record what happened (or the batch could not be made durable): the
    batch's operations stay pending for `recover`, which looks at what each target holds."""
    tool = writer.services.tool
    recover = tool.command("recover", apply=True)
    if ended:
        left = (f"Every operation's outcome is recorded; only the end of run {run_id} could not be. Once the disk "
                f"has room (or works) again, `{recover}` marks it")
    else:
        left = (f"The journal is intact up to its last whole line; run {run_id}'s unfinished operations were left "
                f"pending. Once the disk has room (or works) again, run `{recover}` (it settles each "
                f"one by what its targets hold), then, to do the rest, `{tool.name} {shlex.join(argv)}`")
    if isinstance(exc, IOFailure):
        first = exc.message.split(". ")[0]
        return IOFailure(f"{first}. {left}", details={**exc.details, "run": run_id, "left": left})
    return io_failure(exc, "making the batch's changes durable:", left)


def _run_batches(writer: JournalWriter, run_id: str, ops: Sequence[PlannedOp], guard: PathGuard | None,
                 step: StepHook, batch_size: int, progress: Callable[[int, int], None] | None, io: IOContext,
                 results: list[OpResult]) -> Halt | None:
    """Intents of a batch, one fsync, its effects, one flush of the effects, and only then the
    batch's outcomes in one record and one fsync: no outcome can reach the disk before the
    effects it reports (a line appended earlier could be written back first). Returns why the
    run must stop early (a signal, a disk error), once the batch is recorded."""
    ids = writer.services.ids
    for start in range(0, len(ops), max(1, batch_size)):
        if STOP.requested():
            return Halt(signal=STOP.signal)
        batch = ops[start : start + batch_size]
        op_ids = [ids.new_id() for _ in batch]
        for op_id, op in zip(op_ids, batch, strict=True):
            writer.append(records.intent(run_id, op_id, op.intent_fields()))
            step("intent")
        writer.sync()
        step("intents_synced")
        done: list[tuple[str, str, str]] = []
        halt: Halt | None = None
        try:
            for op_id, op in zip(op_ids, batch, strict=True):
                if STOP.requested():
                    halt = Halt(signal=STOP.signal)
                    break
                status, reason, disk_error, already = _execute_op(op, guard, step, io, writer.services.tool)
                done.append((op_id, status, reason))
                results.append(OpResult(op_id, op.label, op.subject, status, reason, op.action, already))
                step("outcome")
                if progress:
                    progress(len(results), len(ops))
                if disk_error is not None:
                    halt = Halt(error=disk_error, label=op.label, where=_where(disk_error, op))
                    break
        finally:  # even when a rollback failed: what was done must be durable, and then recorded
            io.flush()
            step("effects_durable")
            if halt is not None:  # the rest of the batch never started: recorded so, not left pending
                why = f"not started: interrupted by {halt.signal}" if halt.error is None else \
                    "not started: the run stopped at a disk error"
                for op_id, op in list(zip(op_ids, batch, strict=True))[len(done):]:
                    done.append((op_id, "not_applied", why))
                    results.append(OpResult(op_id, op.label, op.subject, "not_applied", why, op.action))
            if done:
                writer.append(records.outcomes(run_id, done))
            writer.sync()
            step("outcomes_synced")
        if halt is not None:
            return halt
    return None


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


ALREADY = "already applied: "  # the words people read; callers read OpResult.already


def _execute_op(op: PlannedOp, guard: PathGuard | None, step: StepHook, io: IOContext,
                tool: ToolInfo) -> tuple[str, str, BaseException | None, bool]:
    """(status, reason, the disk error that must stop the run or None, whether it was skipped
    because it is already in place)."""
    if op.skip_reason is not None:
        return "skipped", op.skip_reason, None, True
    try:
        _check_guard(op, guard)
    except OutsideAllowedRoots as exc:
        return "skipped", exc.message, None, False
    # No separate precheck: every step re-checks its own before values (compare-and-swap) and
    # a failed step rolls back the steps already done; only then do we probe to say why.
    done: list[Step] = []
    current: Step | None = None
    try:
        for unit in group_steps(op.effects):
            current = unit
            unit.apply(step, io)
            done.append(unit)
            current = None
            step("effect")
    except (CasFailed, OSError, sqlite3.Error) as exc:
        status = "skipped" if isinstance(exc, CasFailed) else "failed"
        try:
            if current is not None and not isinstance(exc, CasFailed):
                undo_partial(current, io)  # a step an error stopped midway: take back its part
            for finished in reversed(done):
                finished.inverse().apply(None, io)
        except Exception as undo_exc:
            raise RollbackFailed(
                f"operation {op.label!r} failed ({exc}) and could not be rolled back ({undo_exc}); "
                f"run `{tool.command('recover', apply=True)}`"
            ) from undo_exc
        note = " (rolled back)" if done else ""
        if status == "skipped":
            verdict, reason = precheck(op.effects, io)
            if verdict == "already":
                return "skipped", ALREADY + reason + note, None, True
            if verdict == "blocked":
                return "skipped", "compare-and-swap failed: " + reason + note, None, False
        return status, f"{exc}{note}", exc if io_problem(exc) else None, False
    return "applied", "", None, False


def undo_partial(unit: Step, io: IOContext | None = None) -> None:
    """Take back what a step did before it failed midway: its effects at `after`, newest first,
    and a move left with both names."""
    for effect in reversed(unit.effects):
        state = effect.probe(io).state
        if state == "mid":
            effect.rollback_interrupted()
        elif state == "after":
            Step((effect.inverse(),)).apply(None, io)


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
