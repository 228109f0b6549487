"""How plans and run results are printed and put in JSON, shared by run, fix, import, merge,
undo, redo and replay."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from journal.effects import Effect
from journal.runner import RunResult
from operations.cli.output import echo, emit
from operations.home import CodexHome
from operations.repair.common import Plan
from operations.repair.execute import preflight
from operations.schema import StateSchema

SHOWN_WITHOUT_VERBOSE = 20


def effect_lines(effect: Effect, now: str = "", detail: str = "", indent: str = "    ") -> list[str]:
    """An effect as its kind renders it, indented; with `now`, its first line says where the
    target is now."""
    lines = effect.render()
    if now:
        lines = [f"{lines[0]}  [target now: {now}{' - ' + detail if detail else ''}]", *lines[1:]]
    return [indent + line for line in lines]


def plan_data(plan: Plan) -> dict[str, Any]:
    return {
        "operation": plan.operation, "options": plan.options, "considered": plan.considered,
        "operations": [{"label": op.label, "subject": op.subject,
                        "effects": [e.to_json() for e in op.effects]} for op in plan.ops],
        "refused": [r.__dict__ for r in plan.refused], "warnings": plan.warnings,
        "summary": {"operations": len(plan.ops), "effects": sum(len(op.effects) for op in plan.ops),
                    "refused": len(plan.refused)},
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
    echo(f"plan: {len(plan.ops)} operation(s), {effects} effect(s); {len(plan.refused)} thread(s) left alone "
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
    refused = plan.refused if verbose else plan.refused[:SHOWN_WITHOUT_VERBOSE]
    for r in refused:
        echo(f"left alone {r.thread}: {r.reason}")
    if len(refused) < len(plan.refused):
        echo(f"… and {len(plan.refused) - len(refused)} more left alone (--verbose)")
    echo(closing)


def emit_dry_run(command: str, plan: Plan, home: CodexHome, schema: StateSchema | None, data: dict[str, Any],
                 json_: bool, verbose: bool, first: Callable[[], None] | None = None) -> None:
    """A dry run's output: at its top whether `--apply` would be refused and why, then the plan."""
    blockers = preflight(plan, home, schema) if plan.ops else []
    data["apply_refused"] = blockers

    def dry() -> None:
        for reason in blockers:
            echo(f"--apply WOULD BE REFUSED: {reason}")
        if first is not None:
            first()
        render_plan(plan, "dry run: nothing changed; " + ("fix the above first" if blockers else
                                                          "add --apply" if plan.ops else "nothing to do"), verbose)

    emit(command, data, json_, dry)


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
