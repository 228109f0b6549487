"""Undo, redo, replay and recover as library calls: plan from the journal and the real state,
refuse what must be refused, take the lock, re-plan under it, pass the safety gate, execute.
Each returns a dataclass; the CLI only parses and renders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from journal.clock import Services
from journal.errors import ConflictRefused, JournalCorrupt, OutsideAllowedRoots
from journal.index import JournalIndex
from journal.planner import CompensationPlan, plan_redo, plan_replay, plan_undo
from journal.recover import Assessment, apply_recovery, assess_pending
from journal.runner import RunResult, execute_run
from journal.store import JournalWriter
from operations.gate import check_databases, gate_for
from operations.home import CodexHome

LINKS = {"undo": "undoes", "redo": "redoes", "replay": "replays"}


@dataclass(frozen=True)
class Compensation:
    """What undo, redo or replay planned, what `--apply` would refuse (dry run), and what it did."""

    action: str
    plan: CompensationPlan
    refusal: str | None = None
    result: RunResult | None = None

    @property
    def settled(self) -> bool:
        """Every operation applied, or (replay) found already applied."""
        if self.result is None:
            return False
        if self.result.status == "ok":
            return True
        return self.action == "replay" and all(
            r.status == "applied" or r.reason.startswith("already applied") for r in self.result.ops)


def plan_for(action: str, index: JournalIndex, ref: str, cascade: bool) -> CompensationPlan:
    if action == "undo":
        return plan_undo(index, ref, cascade=cascade)
    if action == "redo":
        return plan_redo(index, ref, cascade=cascade)
    return plan_replay(index, ref)


def refusal_for(plan: CompensationPlan, force: bool) -> str | None:
    """Why this plan must not run: later operations in the way, conflicts that cannot be forced,
    or (without --force) conflicts."""
    if plan.cascade_needed:
        return (f"later operation(s) {', '.join(plan.cascade_needed)} touched the same targets; "
                f"use --cascade to {plan.action} them first")
    if plan.blocking:
        return "conflicts that cannot be forced: " + "; ".join(f"{c.effect}: {c.detail}" for c in plan.blocking)
    if plan.conflicts and not force:
        return ("targets changed since (conflict): " + "; ".join(f"{c.effect}: {c.detail}" for c in plan.conflicts)
                + "; use --force to proceed anyway")
    return None


def outside_targets(plan: CompensationPlan, loc: CodexHome) -> str | None:
    """What `--apply` would refuse because it lies outside the Codex home and its SQLite home
    (a copied home's journal, a symlinked date folder), said before anything is written."""
    guard = loc.guard()
    bad: list[str] = []
    for op in plan.ops:
        for effect in op.effects:
            for path in effect.paths():
                try:
                    guard.check(path)
                except OutsideAllowedRoots as exc:
                    bad.append(exc.message)
    if not bad:
        return None
    return (f"{len(bad)} target(s) lie outside this Codex home and its SQLite home ({loc.codex_home}): {bad[0]}"
            + "; pass the home these operations were made in with --codex-home")


def preview(action: str, ref: str, loc: CodexHome, index: JournalIndex, *, force: bool = False,
            cascade: bool = False) -> Compensation:
    """The dry run: the plan, and what `--apply` would refuse. Writes nothing."""
    check_databases(loc)  # a damaged database is the same error here as on `run`, not a conflict
    plan = plan_for(action, index, ref, cascade)
    damaged = (f"the journal is damaged ({index.problems[0]}); `verify` says more, and writes are refused"
               if index.problems else None)
    return Compensation(action, plan, damaged or refusal_for(plan, force) or outside_targets(plan, loc))


def compensate(action: str, ref: str, loc: CodexHome, services: Services, argv: Sequence[str], *,
               force: bool = False, cascade: bool = False) -> Compensation:
    """Lock the journal, re-plan under the lock, refuse (ConflictRefused, OutsideAllowedRoots,
    or the safety gate's Refused) with nothing written, else execute as one run."""
    check_databases(loc)
    with JournalWriter(str(loc.journal), services, argv=list(argv)) as writer:
        index = JournalIndex.load(str(loc.journal))
        if index.problems:  # an effect that does not decode: nothing is planned from such a journal
            raise JournalCorrupt(f"journal {loc.journal} is damaged: {index.problems[0]}; writes are refused. "
                                 "`verify` says more", details={"problems": index.problems[:20]})
        plan = plan_for(action, index, ref, cascade)
        refusal = refusal_for(plan, force)
        if refusal:
            raise ConflictRefused(refusal, details={"plan": plan.to_json()})
        outside = outside_targets(plan, loc)
        if outside:  # before anything opens a database there (SQLite would leave -wal/-shm behind)
            raise OutsideAllowedRoots(outside)
        gated = gate_for(loc, services)(plan.ops)  # the write gate, and online backups of what it touches
        full = index.resolve(ref)[1]
        result = execute_run(writer, action, plan.ops, argv=argv, links={LINKS[action]: full},
                             meta={"forced": force, "cascade": cascade, **gated}, guard=loc.guard())
    return Compensation(action, plan, None, result)


@dataclass(frozen=True)
class Recovery:
    """Operations a crash left without an outcome, what is (or was) done with each, runs never ended."""

    items: tuple[Assessment, ...]
    open_runs: tuple[str, ...]
    run_id: str | None = None

    @property
    def foreign(self) -> tuple[Assessment, ...]:
        """Operations left pending because a target holds a value the journal never wrote."""
        return tuple(i for i in self.items if i.verdict == "foreign")


def recover(loc: CodexHome, services: Services, argv: Sequence[str], *, apply: bool,
            accept: Sequence[str] = ()) -> Recovery:
    """Assess pending operations; with `apply`, lock, re-assess, pass the safety gate, and settle
    them (recording the `accept`ed foreign ones as abandoned)."""
    items, open_runs = assess_pending(str(loc.journal))
    if not apply or not (items or open_runs):
        return Recovery(tuple(items), tuple(open_runs))
    with JournalWriter(str(loc.journal), services, allow_pending=True, argv=list(argv)) as writer:
        items, open_runs = assess_pending(str(loc.journal))
        gate_for(loc, services, backups=False)(())  # no backup: a recovery must not need room
        done = apply_recovery(writer, open_runs, accept=accept)
    return Recovery(done.items, tuple(open_runs), done.run_id)
