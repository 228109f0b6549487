"""The journal's front door: open, plan, run, undo, redo, replay, recover, log, verify, show.

Each call takes the journal's path and explicit inputs and returns a dataclass. The safe
sequence of a write lives here, not in the application: take the journal's lock, reload the
journal under it, plan again, refuse conflicts (unless forced) and cascades, refuse targets
outside the allowed roots, ask the caller's gate, and only then execute. The gate is where an
application puts what only it knows (is its own program running, are its databases sound) and
what it wants done first (backups): it raises a ToolError to refuse, nothing written, or
returns what the run should record (JSON values). Dry runs (`apply=False`) write nothing and
take no lock; they say what applying would refuse.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from journal.clock import Services, ToolInfo
from journal.effects import FileMove
from journal.errors import ConflictRefused, JournalCorrupt, NotFound, OutsideAllowedRoots, UsageProblem
from journal.fileio import file_digest
from journal.guard import PathGuard
from journal.index import JournalIndex, RunInfo
from journal.inspection import Inspection, inspect
from journal.logview import LogHealth, chain_checker, iter_log, iter_runs
from journal.planner import CompensationPlan, plan_redo, plan_replay, plan_undo
from journal.recovery import Assessment, apply_recovery, assess_pending
from journal.runner import PlannedOp, RunResult, execute_phased_run, execute_run
from journal.scan import Problem, ScanResult, scan, seq_of_line_hash
from journal.store import JournalWriter

Action = Literal["undo", "redo", "replay"]
Gate = Callable[[Sequence[PlannedOp]], Mapping[str, Any]]
Phase = Callable[[], Sequence[PlannedOp]]
PathLike = str | os.PathLike[str]
LINKS: dict[str, str] = {"undo": "undoes", "redo": "redoes", "replay": "replays"}


def no_gate(ops: Sequence[PlannedOp]) -> Mapping[str, Any]:
    """The gate of a caller with no checks of its own: lets everything through, records nothing."""
    return {}


@dataclass(frozen=True)
class Roots:
    """The folders writes may go to (through no symlinked file), and how a refusal names them
    (`name`, e.g. "this home (/x)") and what it advises (`hint`)."""

    paths: tuple[str, ...]
    name: str = ""
    hint: str = ""

    @classmethod
    def of(cls, roots: Roots | Iterable[PathLike]) -> Roots:
        return roots if isinstance(roots, Roots) else cls(tuple(os.fspath(r) for r in roots))

    def guard(self) -> PathGuard:
        return PathGuard(self.paths)

    def outside(self, ops: Iterable[PlannedOp]) -> str | None:
        """Why writing `ops` must be refused (a target outside the roots, or a symlinked file), or
        None: said before anything opens a target (SQLite would leave `-wal` and `-shm` behind)."""
        guard = self.guard()
        bad: list[str] = []
        for op in ops:
            for effect in op.effects:
                for path in effect.paths():
                    try:
                        guard.check(path)
                    except OutsideAllowedRoots as exc:
                        bad.append(exc.message)
        if not bad:
            return None
        where = self.name or f"the allowed roots ({', '.join(self.paths)})"
        return f"{len(bad)} target(s) lie outside {where}: {bad[0]}" + (f"; {self.hint}" if self.hint else "")


# ------------------------------------------------------------------------- open


def open_writer(journal: PathLike, services: Services, *, argv: Sequence[str] = (),
                allow_pending: bool = False) -> JournalWriter:
    """The one writer, to use in a `with`: entering takes the lock (or refuses at once, naming its
    holder), checks the chain, sets a torn last line aside, and refuses a damaged journal or (unless
    `allow_pending`) one with operations a crash left pending."""
    return JournalWriter(os.fspath(journal), services, allow_pending=allow_pending, argv=list(argv))


def require_journal(journal: PathLike) -> str:
    """The journal's path; NotFound when nothing has been recorded there."""
    path = os.fspath(journal)
    if not os.path.exists(path):
        raise NotFound(f"no journal at {path}; nothing has been recorded yet")
    return path


def open_reader(journal: PathLike) -> JournalIndex:
    """Every run and operation of a journal with its derived state (lines of no valid shape are left
    out and listed in `problems`). NotFound when nothing has been recorded there."""
    return JournalIndex.load(require_journal(journal))


# ------------------------------------------------------------------------- plan


def plan_file_move(src: PathLike, dst: PathLike, *, after_mtime_ns: int | None = None) -> FileMove:
    """The move of `src` to `dst` as it stands now (its digest, size and mtime are what the move and
    its undo check); `after_mtime_ns`: the mtime it gets on arrival (None: it keeps its own)."""
    source = os.fspath(src)
    digest, size = file_digest(source)
    return FileMove(source, os.fspath(dst), digest, size, os.stat(source).st_mtime_ns, after_mtime_ns)


def plan(journal: PathLike | JournalIndex, action: Action, ref: str, *, cascade: bool = False) -> CompensationPlan:
    """What undo, redo or replay of `ref` (an operation, a run, or a unique prefix of either) would
    do now: the operations, with the conflicts found on the real targets. Writes nothing."""
    index = journal if isinstance(journal, JournalIndex) else open_reader(journal)
    if action == "undo":
        return plan_undo(index, ref, cascade=cascade)
    if action == "redo":
        return plan_redo(index, ref, cascade=cascade)
    if action == "replay":
        return plan_replay(index, ref)
    raise UsageProblem(f"no such action {action!r}: undo, redo or replay")


def refusal(plan: CompensationPlan, *, force: bool, tool: ToolInfo) -> str | None:
    """Why this plan must not run: later operations in the way (a cascade is needed), conflicts that
    cannot be forced, or (without `force`) conflicts."""
    if plan.cascade_needed:
        return (f"later operation(s) {', '.join(plan.cascade_needed)} touched the same targets; "
                f"use {tool.option('cascade')} to {plan.action} them first")
    if plan.blocking:
        return "conflicts that cannot be forced: " + "; ".join(f"{c.effect}: {c.detail}" for c in plan.blocking)
    if plan.conflicts and not force:
        return ("targets changed since (conflict): " + "; ".join(f"{c.effect}: {c.detail}" for c in plan.conflicts)
                + f"; use {tool.option('force')} to proceed anyway")
    return None


# ------------------------------------------------------------------------- run


def run(writer: JournalWriter, command: str, ops: Sequence[PlannedOp], *, roots: Roots | Iterable[PathLike],
        gate: Gate = no_gate, argv: Sequence[str] = (), links: dict[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None, progress: Callable[[int, int], None] | None = None,
        batch_size: int = 256, on_step: Callable[[str], None] | None = None) -> RunResult:
    """Execute planned operations as one journaled run, write-ahead: refuse (OutsideAllowedRoots)
    when a target lies outside `roots`, then ask `gate`, then run. The caller holds `writer` (it may
    have taken the lock before planning, so nobody writes between its plan and this run)."""
    roots = Roots.of(roots)
    outside = roots.outside(ops)
    if outside:
        raise OutsideAllowedRoots(outside)
    extra = dict(gate(ops))
    return execute_run(writer, command, ops, argv=argv, links=links, meta={**(meta or {}), **extra},
                       guard=roots.guard(), on_step=on_step, batch_size=batch_size, progress=progress)


def run_phases(writer: JournalWriter, command: str, phases: Sequence[Phase], *, roots: Roots | Iterable[PathLike],
               gate: Gate = no_gate, argv: Sequence[str] = (), meta: Mapping[str, Any] | None = None,
               progress: Callable[[int, int], None] | None = None) -> RunResult:
    """One run made of phases, each planned once the one before is applied and durable, so one undo
    takes it whole. The gate is asked once, before the first phase is planned (with no operations:
    it judges the place, not the plan); each operation is still kept inside `roots` as it runs (one
    outside is skipped, with the reason)."""
    roots = Roots.of(roots)
    extra = dict(gate(()))
    return execute_phased_run(writer, command, phases, argv=argv, meta={**(meta or {}), **extra},
                              guard=roots.guard(), progress=progress)


# ------------------------------------------------------------------------- undo, redo, replay


@dataclass(frozen=True)
class Compensation:
    """An undo, redo or replay: its plan; for a dry run what applying would refuse (None: nothing);
    once applied, the run's result and what the gate recorded."""

    action: str
    plan: CompensationPlan
    refusal: str | None = None
    result: RunResult | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def settled(self) -> bool:
        """Every operation applied, or (replay) found already applied."""
        if self.result is None:
            return False
        if self.result.status == "ok":
            return True
        return self.action == "replay" and all(
            r.status == "applied" or r.already for r in self.result.ops)


def preview(journal: PathLike, action: Action, ref: str, *, roots: Roots | Iterable[PathLike], force: bool = False,
            cascade: bool = False, tool: ToolInfo | None = None) -> Compensation:
    """The dry run of undo, redo or replay: the plan, and what applying it would refuse (a damaged
    journal, conflicts, a cascade, targets outside `roots`). Writes nothing, takes no lock."""
    tool = tool or ToolInfo()
    index = open_reader(journal)
    planned = plan(index, action, ref, cascade=cascade)
    damaged = (f"the journal is damaged ({index.problems[0]}); `{tool.command('verify')}` says more, and writes "
               "are refused" if index.problems else None)
    why = damaged or refusal(planned, force=force, tool=tool) or Roots.of(roots).outside(planned.ops)
    return Compensation(action, planned, why)


def compensate(journal: PathLike, action: Action, ref: str, services: Services, *,
               roots: Roots | Iterable[PathLike], gate: Gate = no_gate, argv: Sequence[str] = (),
               force: bool = False, cascade: bool = False) -> Compensation:
    """Undo, redo or replay `ref` safely: take the lock, reload the journal under it, plan again,
    refuse (ConflictRefused: conflicts unless `force`, a cascade unless `cascade`; JournalCorrupt;
    OutsideAllowedRoots) or whatever `gate` refuses, with nothing written; else execute the plan as
    one run linked to `ref`, recording `force`, `cascade` and what the gate returned."""
    path = require_journal(journal)  # NotFound before a writer makes the journal's folder
    tool = services.tool
    with open_writer(path, services, argv=argv) as writer:
        index = JournalIndex.load(path)
        if index.problems:  # an effect that does not decode: nothing is planned from such a journal
            raise JournalCorrupt(f"journal {path} is damaged: {index.problems[0]}; writes are refused. "
                                 f"`{tool.command('verify')}` says more", details={"problems": index.problems[:20]})
        planned = plan(index, action, ref, cascade=cascade)
        why = refusal(planned, force=force, tool=tool)
        if why:
            raise ConflictRefused(why, details={"plan": planned.to_json()})
        roots = Roots.of(roots)
        outside = roots.outside(planned.ops)
        if outside:
            raise OutsideAllowedRoots(outside)
        extra = dict(gate(planned.ops))
        full = index.resolve(ref)[1]
        result = execute_run(writer, action, planned.ops, argv=argv, links={LINKS[action]: full},
                             meta={"forced": force, "cascade": cascade, **extra}, guard=roots.guard())
    return Compensation(action, planned, None, result, extra)


def undo(journal: PathLike, ref: str, services: Services, *, roots: Roots | Iterable[PathLike],
         gate: Gate = no_gate, argv: Sequence[str] = (), force: bool = False, cascade: bool = False,
         apply: bool = True) -> Compensation:
    """Undo an operation, or a run's operations newest first (`apply=False`: the dry run)."""
    if not apply:
        return preview(journal, "undo", ref, roots=roots, force=force, cascade=cascade, tool=services.tool)
    return compensate(journal, "undo", ref, services, roots=roots, gate=gate, argv=argv, force=force, cascade=cascade)


def redo(journal: PathLike, ref: str, services: Services, *, roots: Roots | Iterable[PathLike],
         gate: Gate = no_gate, argv: Sequence[str] = (), force: bool = False, cascade: bool = False,
         apply: bool = True) -> Compensation:
    """Undo the undo of an operation or run (`ref` may name either, or the undo itself)."""
    if not apply:
        return preview(journal, "redo", ref, roots=roots, force=force, cascade=cascade, tool=services.tool)
    return compensate(journal, "redo", ref, services, roots=roots, gate=gate, argv=argv, force=force, cascade=cascade)


def replay(journal: PathLike, ref: str, services: Services, *, roots: Roots | Iterable[PathLike],
           gate: Gate = no_gate, argv: Sequence[str] = (), apply: bool = True) -> Compensation:
    """Apply a recorded run again to the current state, each operation guarded by its before
    values; those in effect are skipped as already applied."""
    if not apply:
        return preview(journal, "replay", ref, roots=roots, tool=services.tool)
    return compensate(journal, "replay", ref, services, roots=roots, gate=gate, argv=argv)


# ------------------------------------------------------------------------- recover


@dataclass(frozen=True)
class Recovery:
    """Operations a crash left without an outcome, what is (or was) done with each, and runs never
    ended; for a dry run what applying would refuse; once applied, the recovery's run."""

    items: tuple[Assessment, ...]
    open_runs: tuple[str, ...]
    run_id: str | None = None
    refusal: str | None = None
    recorded: bool = True  # False: no journal there
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def foreign(self) -> tuple[Assessment, ...]:
        """Operations left pending because a target holds a value the journal never wrote."""
        return tuple(i for i in self.items if i.verdict == "foreign")


def recover(journal: PathLike, services: Services, *, roots: Roots | Iterable[PathLike], apply: bool = False,
            accept: Sequence[str] = (), gate: Gate = no_gate, argv: Sequence[str] = ()) -> Recovery:
    """Judge what a crash left pending by the real state of its targets; with `apply`, take the lock,
    judge again, refuse targets outside `roots`, ask `gate` (with the pending operations), and
    settle every one (recording the `accept`ed foreign ones as abandoned: ids, prefixes, or `all`)."""
    path = os.fspath(journal)
    if not os.path.exists(path):
        if accept:
            require_journal(path)  # NotFound: there is nothing to accept
        return Recovery((), (), recorded=False)
    roots = Roots.of(roots)
    found = assess_pending(path)
    if not apply or not (found.items or found.open_runs):
        return Recovery(found.items, found.open_runs, refusal=roots.outside(found.ops))
    with open_writer(path, services, allow_pending=True, argv=argv) as writer:
        found = assess_pending(path)
        outside = roots.outside(found.ops)
        if outside:
            raise OutsideAllowedRoots(outside)
        extra = dict(gate(found.ops))
        done = apply_recovery(writer, found.open_runs, accept=accept, meta=extra)
    return Recovery(done.items, found.open_runs, done.run_id, meta=extra)


# ------------------------------------------------------------------------- read


@dataclass
class Log:
    """A listing streamed from the end of the journal (memory bounded by what is in flight, not by
    the file): `entries` newest first, then `health()` for what was seen of the hash chain."""

    path: str
    recorded: bool
    entries: Iterator[dict[str, Any]]
    verdict: Callable[[], LogHealth] = field(repr=False)

    def health(self) -> LogHealth:
        """Valid once `entries` are read (a second process may still be checking a large file)."""
        return self.verdict()


def log(journal: PathLike, *, run: str | None = None, op: str | None = None, target: str | None = None,
        limit: int | None = None, runs: bool = False) -> Log:
    """Runs and their operations newest first, each operation with its derived state, filtered by
    run or operation id prefix (any case) or by text in a target; `limit` counts operations. With
    `runs`, one entry per run (what it undoes, redoes or replays included) and `limit` counts runs."""
    path = os.fspath(journal)
    if not os.path.exists(path):
        return Log(path, False, iter(()), LogHealth)
    if runs and (op or target):
        raise UsageProblem("a listing of runs takes no operation or target filter")
    run, op = (run.strip().lower() if run else None), (op.strip().lower() if op else None)
    parallel = chain_checker(path, limit)
    health = LogHealth()
    inline = None if parallel else health
    entries = iter_runs(path, run=run, limit=limit, health=inline) if runs else \
        iter_log(path, run=run, op=op, target=target, limit=limit, health=inline)
    return Log(path, True, entries, parallel or (lambda: health))


@dataclass(frozen=True)
class Verification:
    """The hash chain, torn or corrupt lines, operations pending (by run), and whether a head
    printed after an earlier run is still in the journal (`head_found_at`: its seq)."""

    path: str
    scan: ScanResult
    pending_by_run: dict[str, list[str]]
    expected_head: str | None = None
    head_found_at: int | None = None

    @property
    def recorded(self) -> bool:
        return self.scan.exists

    @property
    def ok(self) -> bool:
        head_ok = self.expected_head is None or self.head_found_at is not None
        return self.scan.healthy and not self.scan.pending and head_ok


def verify(journal: PathLike, *, expect_head: str | None = None) -> Verification:
    """Check the whole journal in one pass (a missing one is fine: nothing recorded)."""
    path = os.fspath(journal)
    result = scan(path)
    pending_by_run: dict[str, list[str]] = {}
    for op_id in sorted(result.pending):
        pending_by_run.setdefault(result.pending[op_id].run_id, []).append(op_id)
    wanted = expect_head.strip().lower() if expect_head else None
    found = seq_of_line_hash(path, wanted) if wanted and result.exists else None
    return Verification(path, result, pending_by_run, wanted, found)


@dataclass(frozen=True)
class Shown:
    """An operation or a run, every effect with where its target is now; `damage`: the journal's
    first problem, when it has one (what is shown may then be incomplete)."""

    inspection: Inspection
    run: RunInfo | None
    damage: Problem | None


def show(journal: PathLike, ref: str) -> Shown:
    """Resolve `ref` (an id or a unique prefix) and probe every effect of its operations."""
    index = open_reader(journal)
    health = scan(index.path)
    shown = inspect(index, ref)
    run_info = index.runs[shown.full_id] if shown.kind == "run" else None
    return Shown(shown, run_info, health.problems[0] if health.problems else None)
