"""Commands over the journal: log, show, undo, redo, replay, verify, recover."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Annotated, Any

import typer

from journal.codec import bytes_to_json
from journal.errors import NotFound
from journal.index import JournalIndex
from journal.inspect import inspect
from journal.logview import LogHealth, chain_checker, iter_log
from journal.planner import CompensationPlan
from journal.scan import scan, seq_of_line_hash
from operations.cli import context
from operations.cli.exit_codes import OK, REFUSED
from operations.cli.options import ApplyOpt, CodexHomeOpt, JournalOpt, JsonOpt, head_hash, non_empty
from operations.cli.output import echo, emit, handles, stream_json, warn
from operations.cli.plan_view import effect_lines, render_result, result_data
from operations.compensate import compensate, preview, recover


def _recorded(journal: str | None, codex_home: str | None) -> context.CodexHome:
    loc = context.locate(codex_home, journal)
    if not loc.journal.exists():
        raise NotFound(f"no journal at {loc.journal}; nothing has been recorded yet")
    return loc


def _index(journal: str | None, codex_home: str | None) -> tuple[context.CodexHome, JournalIndex]:
    loc = _recorded(journal, codex_home)
    return loc, JournalIndex.load(str(loc.journal))


# ------------------------------------------------------------------------- log


@handles("log")
def log_cmd(
    run: Annotated[str | None, typer.Option("--run", metavar="ID", callback=non_empty,
                                            help="Only runs whose id starts with this (any case).")] = None,
    op: Annotated[str | None, typer.Option("--op", metavar="ID", callback=non_empty,
                                           help="Only operations whose id starts with this (any case).")] = None,
    target: Annotated[
        str | None, typer.Option("--target", metavar="TEXT", callback=non_empty,
            help="Only operations touching a path or row containing this text.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", metavar="N", min=1,
        help="At most this many operations.")] = None,
    codex_home: CodexHomeOpt = None,
    journal: JournalOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List runs and operations, newest first. Example: codex-sessions log --limit 20"""
    loc = context.locate(codex_home, journal)
    if not loc.journal.exists():
        emit("log", {"journal": str(loc.journal), "entries": [], "recorded": False}, json_,
             lambda: echo(f"nothing has been recorded yet (no journal at {loc.journal})"))
        return
    parallel = chain_checker(str(loc.journal), limit)
    health = LogHealth()
    run, op = (run.strip().lower() if run else None), (op.strip().lower() if op else None)
    items = iter_log(str(loc.journal), run=run, op=op, target=target, limit=limit,
                     health=None if parallel else health)
    if json_:
        stream_json("log", items, "entries")
        _warn_damage(parallel() if parallel else health)
        return
    for item in items:
        if item["type"] == "run":
            counts = ", ".join(f"{v} {k}" for k, v in sorted(item["counts"].items()) if v) or "no operations"
            echo(f"run {item['run']}  {item['ts']}  {item['command']}  [{item['status']}]  {counts}")
        else:
            link = next((f" ({k} {item[k]})" for k in ("redoes", "compensates", "replays") if k in item), "")
            echo(f"  op {item['op']}  {item['state']:<11} {item['label']}{link}")
            if item["reason"]:
                echo(f"      reason: {item['reason']}")
    _warn_damage(parallel() if parallel else health)


def _warn_damage(health: LogHealth) -> None:
    if health.ok:
        return
    where = f"after line seq {health.damaged_at_seq}" if health.damaged_at_seq is not None else ""
    warn(f"WARNING: the journal's hash chain is broken {where}"
         + (f"; {health.unreadable_lines} line(s) cannot be read" if health.unreadable_lines else "")
         + ": what is listed may be incomplete or altered. `codex-sessions verify` says where")


# ------------------------------------------------------------------------- show


@handles("show")
def show_cmd(
    ref: Annotated[str, typer.Argument(metavar="ID", help="An operation or run id (or a unique prefix).")],
    codex_home: CodexHomeOpt = None,
    journal: JournalOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Show an operation or run: every effect's before, after and current state.

    Example: codex-sessions show 0193ab
    """
    loc, index = _index(journal, codex_home)
    health = scan(str(loc.journal))
    if not health.healthy:
        first = health.problems[0]
        warn(f"WARNING: the journal is damaged at line {first.line} ({first.kind}): what is shown may be "
             "incomplete or altered. `codex-sessions verify` says more")
    shown = inspect(index, ref)
    kind, full = shown.kind, shown.full_id
    ops: list[dict[str, Any]] = []
    for op in shown.ops:
        info = op.info
        ops.append({
            "op": op.op_id, "run": info.run_id, "label": info.label, "subject": info.subject, "state": op.state,
            "outcome": info.outcome, "reason": info.reason, "recovered": info.recovered,
            "compensates": info.compensates, "redoes": info.redoes, "replays": info.replays,
            "compensated_by": info.compensated_by,
            "effects": [e.to_json(op.state) for e in op.effects],
        })
    data: dict[str, Any] = {"kind": kind, "id": full, "operations": ops}
    if kind == "run":
        data["run"] = asdict(index.runs[full])

    def human() -> None:
        if kind == "run":
            r = index.runs[full]
            echo(f"run {full}  {r.ts}  {r.command}  [{r.status or 'interrupted'}]  argv: {' '.join(r.argv)}")
        for op, found in zip(ops, shown.ops, strict=True):
            echo(f"  op {op['op']}  {op['state']}  {op['label']}")
            for link in ("compensates", "redoes", "replays"):
                if op[link]:
                    echo(f"    {link} {op[link]}")
            if op["reason"]:
                echo(f"    reason: {op['reason']}")
            for e in found.effects:
                for line in effect_lines(e.effect, e.now, e.detail):
                    echo(line)

    emit("show", data, json_, human)


# ------------------------------------------------------------------------- undo / redo / replay


def _render_plan(plan: CompensationPlan) -> None:
    echo(f"{plan.action} {plan.requested}: {len(plan.ops)} operation(s)")
    for src, op in zip(plan.sources, plan.ops, strict=True):
        echo(f"  {op.label}  (of {src})")
        for effect in op.effects:
            for line in effect_lines(effect):
                echo(line)
    for op_id, state in plan.not_in_effect:
        echo(f"  left as it is: {op_id} is {state}")
    for op_id, reason in plan.would_skip:
        echo(f"  would skip {op_id}: {reason}")
    for c in plan.conflicts:
        echo(f"  CONFLICT{' (blocking)' if c.blocking else ''}: {c.effect}: {c.detail}")
    if plan.cascade_needed:
        echo(f"  later operations in effect touch the same targets: {', '.join(plan.cascade_needed)}"
             f" (use --cascade to {plan.action} them first)")


def _compensate(
    action: str, ref: str, apply: bool, force: bool, cascade: bool, codex_home: str | None, journal: str | None,
    json_: bool,
) -> None:
    if not apply:
        loc, index = _index(journal, codex_home)
        found = preview(action, ref, loc, index, force=force, cascade=cascade)
        data = {"dry_run": True, "plan": found.plan.to_json(), "would_refuse": found.refusal}

        def human() -> None:
            _render_plan(found.plan)
            echo(f"would refuse: {found.refusal}" if found.refusal
                 else f"dry run: nothing changed; add --apply to {action}")

        emit(action, data, json_, human)
        return
    done = compensate(action, ref, _recorded(journal, codex_home), context.make_services(), sys.argv[1:], force=force,
                      cascade=cascade)  # it reads the journal under the lock
    assert done.result is not None
    result = done.result
    code = OK if done.settled else REFUSED
    emit(action, {"dry_run": False, **result_data(result)}, json_, lambda: render_result(result, action),
         status="ok" if code == 0 else "partial", exit_code=code)


ForceOpt = Annotated[bool, typer.Option("--force", metavar="",
    help="Proceed over conflicts (what changed since is recorded).")]
CascadeOpt = Annotated[
    bool, typer.Option("--cascade", metavar="",
        help="Also undo later operations that touched the same targets, newest first.")
]
RefArg = Annotated[str, typer.Argument(metavar="ID", show_default=False,
    help="An operation or run id (or a unique prefix, any case).")]
RunRefArg = Annotated[str, typer.Argument(metavar="RUN_ID", help="A run id (or a unique prefix, any case).")]
RedoCascadeOpt = Annotated[
    bool, typer.Option("--cascade", metavar="", help="Also redo later undone operations that touched the same targets.")
]


@handles("undo")
def undo_cmd(ref: RefArg, apply: ApplyOpt = False, force: ForceOpt = False, cascade: CascadeOpt = False,
             codex_home: CodexHomeOpt = None, journal: JournalOpt = None, json_: JsonOpt = False) -> None:
    """Undo an operation or a whole run (newest operation first). Example: codex-sessions undo 0193ab --apply"""
    _compensate("undo", ref, apply, force, cascade, codex_home, journal, json_)


@handles("redo")
def redo_cmd(ref: RefArg, apply: ApplyOpt = False, force: ForceOpt = False, cascade: RedoCascadeOpt = False,
             codex_home: CodexHomeOpt = None, journal: JournalOpt = None, json_: JsonOpt = False) -> None:
    """Redo what an undo reversed (the undo of an undo). Example: codex-sessions redo 0193ab --apply"""
    _compensate("redo", ref, apply, force, cascade, codex_home, journal, json_)


@handles("replay")
def replay_cmd(ref: RunRefArg, apply: ApplyOpt = False, codex_home: CodexHomeOpt = None, journal: JournalOpt = None,
               json_: JsonOpt = False) -> None:
    """Re-apply a recorded run to the current state, each operation guarded by its before values.

    Example: codex-sessions replay 0193ab --apply
    """
    _compensate("replay", ref, apply, False, False, codex_home, journal, json_)


# ------------------------------------------------------------------------- verify / recover


@handles("verify")
def verify_cmd(
    expect_head: Annotated[str | None, typer.Option(
        "--expect-head", metavar="SHA256", callback=head_hash,
        help="The head hash printed after a run you trust: lines deleted from the end since then are found.",
    )] = None,
    codex_home: CodexHomeOpt = None, journal: JournalOpt = None, json_: JsonOpt = False,
) -> None:
    """Check the hash chain, torn or corrupt lines, and operations left pending. Example: codex-sessions verify"""
    loc = context.locate(codex_home, journal)
    if not loc.journal.exists():
        emit("verify", {"journal": str(loc.journal), "ok": True, "recorded": False, "lines": 0, "problems": [],
                        "pending": [], "pending_by_run": {}, "open_runs": [], "torn_tail": None}, json_,
             lambda: echo(f"nothing has been recorded yet (no journal at {loc.journal}); nothing to verify"))
        return
    result = scan(str(loc.journal))
    head_found = None
    if expect_head:
        head_found = seq_of_line_hash(str(loc.journal), expect_head.strip().lower())
    head_ok = expect_head is None or (head_found is not None)
    ok = result.healthy and not result.pending and head_ok
    pending_by_run: dict[str, list[str]] = {}
    for op_id in sorted(result.pending):
        pending_by_run.setdefault(result.pending[op_id].run_id, []).append(op_id)
    data = {
        "journal": str(loc.journal), "ok": ok, "lines": result.lines, "journal_id": result.journal_id,
        "head": {"seq": result.last_seq, "sha256": result.last_hash},
        "problems": [asdict(p) for p in result.problems],
        "torn_tail": ({"offset": result.torn.offset, "length": len(result.torn.data),
                       "bytes": bytes_to_json(result.torn.data[:200])} if result.torn else None),
        "pending": sorted(result.pending), "pending_by_run": pending_by_run, "open_runs": sorted(result.open_runs),
        "expected_head": ({"sha256": expect_head, "found_at_seq": head_found,
                           "lines_after_it": None if head_found is None else result.last_seq - head_found}
                          if expect_head else None),
    }

    def human() -> None:
        echo(f"journal {loc.journal}: {result.lines} lines, head seq {result.last_seq} sha256 {result.last_hash}")
        for p in result.problems:
            echo(f"  line {p.line} (offset {p.offset}): {p.kind}: {p.message}")
        if result.torn:
            echo(f"  torn last line at offset {result.torn.offset} ({len(result.torn.data)} bytes); "
                 "it will be set aside before the next write")
        for run_id, ops in pending_by_run.items():
            echo(f"  run {run_id}: {len(ops)} operation(s) pending (first {ops[0]}): run `codex-sessions recover`")
        if expect_head:
            if head_found is None:
                echo(f"  the expected head {expect_head} is NOT in this journal: lines were deleted or rewritten")
            else:
                echo(f"  the expected head is line seq {head_found}; {result.last_seq - head_found} line(s) after it")
        echo("ok" if ok else "NOT OK")

    emit("verify", data, json_, human, status="ok" if ok else "refused", exit_code=OK if ok else REFUSED)


AcceptOpt = Annotated[list[str] | None, typer.Option(
    "--accept", metavar="OP",
    help="An operation reported `foreign` (a target holds a value the journal never wrote): record it as "
         "abandoned, keeping what its targets hold (recorded with their digests); repeatable, or `all`.")]


@handles("recover")
def recover_cmd(apply: ApplyOpt = False, accept: AcceptOpt = None, codex_home: CodexHomeOpt = None,
                journal: JournalOpt = None, json_: JsonOpt = False) -> None:
    """Settle operations a crash left without an outcome, by looking at the real state.

    Operations on the same files or rows are judged together, in the order they ran.
    Example: codex-sessions recover --apply
    """
    loc = context.locate(codex_home, journal)
    if not loc.journal.exists() and not accept:  # as log and verify: nothing recorded, nothing to settle
        emit("recover", {"dry_run": not apply, "run": None, "operations": [], "open_runs": [], "foreign": [],
                         "accept": [], "recorded": False}, json_,
             lambda: echo(f"nothing to recover (no journal at {loc.journal}: nothing has been recorded yet)"))
        return
    found = recover(_recorded(journal, codex_home), context.make_services(), sys.argv[1:], apply=apply,
                    accept=tuple(accept or ()))
    items, open_runs, run_id = found.items, found.open_runs, found.run_id
    foreign = found.foreign
    accept_commands = [f"codex-sessions recover --apply --accept {i.op_id}" for i in foreign]
    data = {"dry_run": not apply, "run": run_id, "operations": [asdict(i) for i in items],
            "open_runs": list(open_runs), "foreign": [i.op_id for i in foreign], "accept": accept_commands}

    def human() -> None:
        if not items and not open_runs:
            echo("nothing to recover")
        for i in items:
            echo(f"  {i.op_id}  {i.verdict:<11} {i.label}: {i.reason}")
        for r in open_runs:
            echo(f"  run {r} never ended; it will be marked interrupted")
        if items and not apply:
            echo("dry run: add --apply to settle them and record their outcomes")
        if foreign and apply:
            echo(f"{len(foreign)} operation(s) left pending: a target holds a value this journal never wrote. "
                 "Everything else is settled. Look at each (`codex-sessions show OP`), then record it as "
                 "abandoned, keeping what its targets hold:")
            for command in accept_commands:
                echo(f"  {command}")

    code = REFUSED if foreign and apply else OK
    emit("recover", data, json_, human, status="refused" if code else "ok", exit_code=code)
