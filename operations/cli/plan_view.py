"""How plans, previews and run results are printed and put in JSON, shared by run, fix, import,
merge, undo, redo and replay. A listing is capped at SHOWN_WITHOUT_VERBOSE lines after a summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from journal.effects import Effect
from journal.runner import PlannedOp, RunResult
from operations.cli.exit_codes import OK, REFUSED
from operations.cli.output import Streamed, echo, emit
from operations.pipeline import Applied, Preview
from operations.repair.plan import Plan
from operations.runreport import render as render_report

SHOWN_WITHOUT_VERBOSE = 20


def effect_lines(effect: Effect, now: str = "", detail: str = "", indent: str = "    ") -> list[str]:
    """An effect as its kind renders it, indented; with `now`, its first line says where the
    target is now."""
    lines = effect.render()
    if now:
        lines = [f"{lines[0]}  [target now: {now}{' - ' + detail if detail else ''}]", *lines[1:]]
    return [indent + line for line in lines]


def _op_json(op: PlannedOp) -> dict[str, Any]:
    return {"label": op.label, "subject": op.subject, "effects": [e.to_json() for e in op.effects]}


def plan_data(plan: Plan) -> dict[str, Any]:
    return {
        "operation": plan.operation, "options": plan.options, "considered": plan.considered,
        "operations": Streamed(plan.ops, _op_json),
        "refused": [asdict(r) for r in plan.left_alone], "warnings": plan.warnings,
        "summary": {"operations": len(plan.ops), "effects": sum(len(op.effects) for op in plan.ops),
                    "refused": len(plan.left_alone)},
    }


def _effect_kinds(plan: Plan) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for op in plan.ops:
        for effect in op.effects:
            name = effect.summary_name()
            kinds[name] = kinds.get(name, 0) + 1
    return kinds


def render_plan(plan: Plan, closing: str, verbose: bool = False) -> None:
    """A summary first, grouped by what changes; each operation's effects with --verbose."""
    effects = sum(len(op.effects) for op in plan.ops)
    echo(f"plan: {len(plan.ops)} operation(s), {effects} effect(s); {len(plan.left_alone)} thread(s) left alone "
         f"(of {plan.considered} considered)")
    for kind, n in sorted(_effect_kinds(plan).items()):
        echo(f"  {n} x {kind}")
    for w in plan.warnings:
        echo(f"WARNING: {w}")
    shown = plan.ops if verbose else plan.ops[:SHOWN_WITHOUT_VERBOSE]
    for op in shown:
        echo(f"{op.label}")
        if verbose:
            for effect in op.effects:
                for line in effect_lines(effect):
                    echo(line)
    if len(shown) < len(plan.ops):
        echo(f"… and {len(plan.ops) - len(shown)} more operation(s); --verbose lists them all, with every effect")
    elif plan.ops and not verbose:
        echo("(--verbose shows every effect with its before and after values)")
    render_left_alone(plan, verbose)
    echo(closing)


def render_left_alone(plan: Plan, verbose: bool) -> None:
    shown = plan.left_alone if verbose else plan.left_alone[:SHOWN_WITHOUT_VERBOSE]
    for r in shown:
        echo(f"left alone {r.thread}: {r.reason}")
    if len(shown) < len(plan.left_alone):
        echo(f"… and {len(plan.left_alone) - len(shown)} more left alone (--verbose)")


def refusal_data(seen: Preview) -> list[str]:
    return [r.detail for r in seen.apply_refused]


def closing(seen: Preview) -> str:
    return "dry run: nothing changed; " + ("fix the above first" if seen.apply_refused else
                                           "add --apply" if seen.op_count else "nothing to do")


def emit_dry_run(command: str, seen: Preview, data: dict[str, Any], json_: bool, verbose: bool,
                 first: Callable[[], None] | None = None) -> None:
    """A one-plan dry run's output: at its top whether `--apply` would be refused and why, then the plan."""
    data["apply_refused"] = refusal_data(seen)

    def dry() -> None:
        for reason in seen.apply_refused:
            echo(f"--apply WOULD BE REFUSED: {reason.detail}")
        if first is not None:
            first()
        render_plan(seen.plans[0], closing(seen), verbose)

    emit(command, data, json_, dry)


def applied_data(done: Applied) -> dict[str, Any]:
    return {**result_data(done.result), "backups": [b.__dict__ for b in done.backups],
            "undo": f"codex-sessions undo {done.result.run_id} --apply", "report": done.report}


def emit_applied(command: str, done: Applied, data: dict[str, Any], json_: bool, verbose: bool,
                 first: Callable[[], None] | None = None) -> None:
    """An apply's output: what was left alone, the backups, before and after, the run."""
    data.update(applied_data(done))
    code = OK if done.result.status == "ok" else REFUSED  # threads left alone at planning are reported, not failures

    def human() -> None:
        if first is not None:
            first()
        for plan in done.preview.plans:
            render_left_alone(plan, verbose)
        for b in done.backups:
            echo(f"backup of {b.db}: {b.path} (sha256 {b.sha256[:16]}…)")
        for line in render_report(done.report):
            echo(line)
        render_result(done.result, command, verbose)

    emit(command.split()[0], data, json_, human, status="ok" if code == 0 else "partial", exit_code=code)


def result_data(result: RunResult) -> dict[str, Any]:
    return {"run": result.run_id, "status": result.status, "counts": result.counts,
            "operations": [asdict(o) for o in result.ops], "journal_head": result.head}


def render_result(result: RunResult, verb: str, verbose: bool = False) -> None:
    """Every operation not applied, with its reason; the applied ones up to a screenful unless
    `verbose` (`show RUN` lists them all)."""
    applied = [op for op in result.ops if op.status == "applied"]
    listed = applied if verbose else applied[:SHOWN_WITHOUT_VERBOSE]
    shown = {op.op_id for op in listed}
    for op in result.ops:
        if op.status != "applied" or op.op_id in shown:
            echo(f"  {op.status:<8} {op.title}{'  (' + op.reason + ')' if op.reason else ''}")
    if len(listed) < len(applied):
        echo(f"  … and {len(applied) - len(listed)} more applied (`codex-sessions show {result.run_id}` lists them)")
    c = result.counts
    echo(f"{verb}: {c['applied']} applied, {c['skipped']} skipped, {c['failed']} failed; run {result.run_id}")
    echo(f"journal head: seq {result.head['seq']} sha256 {result.head['sha256']}")
    if c["applied"]:
        echo(f"to reverse it: codex-sessions undo {result.run_id} --apply")
