"""How `fix`'s plan is printed and put in JSON: a line per phase first, then at most
SHOWN_WITHOUT_VERBOSE operations and left-alone threads, the prediction and the notes."""

from __future__ import annotations

from typing import Any

from operations.cli.output import echo
from operations.cli.plan_view import SHOWN_WITHOUT_VERBOSE, effect_lines, plan_data
from operations.cli.steps_view import spell
from operations.repair.fix import FixPlan


def fix_data(fix: FixPlan) -> dict[str, Any]:
    return {"phases": [{"phase": p.operation, "operations": len(p.ops), "left_alone": len(p.left_alone),
                        "plan": plan_data(p)} for p in fix.phases],
            "target_provider": fix.target_provider, "predicted": fix.predicted, "notes": fix.notes,
            "still_hidden": [{**item, "how_to_see": spell(item["how_to_see"])} for item in fix.still_hidden],
            "operations": fix.op_count}


def render_fix(fix: FixPlan, verbose: bool) -> None:
    """A line per phase first, then at most SHOWN_WITHOUT_VERBOSE operations and left-alone threads."""
    for phase in fix.phases:
        echo(f"{phase.operation}: {len(phase.ops)} operation(s)"
             + (f", {len(phase.left_alone)} thread(s) left alone" if phase.left_alone else ""))
    budget = {"ops": SHOWN_WITHOUT_VERBOSE, "left": SHOWN_WITHOUT_VERBOSE}
    for phase in fix.phases:
        ops = phase.ops if verbose else phase.ops[:budget["ops"]]
        left = phase.left_alone if verbose else phase.left_alone[:budget["left"]]
        budget["ops"] -= len(ops)
        budget["left"] -= len(left)
        for op in ops:
            echo(f"  {phase.operation}: {op.label}")
            for effect in op.effects if verbose else ():
                for line in effect_lines(effect, indent="      "):
                    echo(line)
        for r in left:
            echo(f"  left alone {r.thread}: {r.reason}")
    hidden_ops = fix.op_count - SHOWN_WITHOUT_VERBOSE
    hidden_left = sum(len(p.left_alone) for p in fix.phases) - SHOWN_WITHOUT_VERBOSE
    if not verbose and (hidden_ops > 0 or hidden_left > 0):
        echo(f"… and {max(hidden_ops, 0)} more operation(s), {max(hidden_left, 0)} more left alone; --verbose lists "
             "them all, with every effect")
    echo("predicted afterwards:")
    for view in fix.predicted.values():
        echo(f"  {view['summary']}")
    if fix.still_hidden:
        echo("still hidden from the IDE list, and how to see them:")
        for item in fix.still_hidden:
            echo(f"  {item['count']} by {item['reason']}: {spell(item['how_to_see'])}")
    for note in fix.notes:
        echo(f"note: {note}")
