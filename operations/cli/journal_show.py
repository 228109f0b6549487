"""`show`: an operation or a run, every effect with its before, after and where it is now."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from journal import api
from journal.inspection import OpNow
from operations.cli import context
from operations.cli.options import CodexHomeOpt, JournalOpt, JsonOpt
from operations.cli.output import echo, emit, handles, warn
from operations.cli.plan_view import effect_lines

LINKS = ("compensates", "redoes", "replays", "origin")


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
    shown = api.show(context.locate(codex_home, journal).journal, ref)
    if shown.damage is not None:
        warn(f"WARNING: the journal is damaged at line {shown.damage.line} ({shown.damage.kind}): what is shown may "
             "be incomplete or altered. `codex-sessions verify` says more")
    found, run = shown.inspection, shown.run
    ops = [_op_data(op) for op in found.ops]
    data: dict[str, Any] = {"kind": found.kind, "id": found.full_id, "operations": ops}
    if run is not None:
        data["run"] = asdict(run)

    def human() -> None:
        if run is not None:
            status, argv = run.status or "interrupted", " ".join(run.argv)
            echo(f"run {run.run_id}  {run.ts}  {run.command}  [{status}]  argv: {argv}")
        for op, now in zip(ops, found.ops, strict=True):
            echo(f"  op {op['op']}  {op['state']}  {now.info.title}")
            for link in LINKS:
                if op[link]:
                    echo(f"    {link} {op[link]}")
            if op["reason"]:
                echo(f"    reason: {op['reason']}")
            for e in now.effects:
                for line in effect_lines(e.effect, e.now, e.detail):
                    echo(line)

    emit("show", data, json_, human)


def _op_data(op: OpNow) -> dict[str, Any]:
    info = op.info
    return {
        "op": op.op_id, "run": info.run_id, "label": info.label, "action": info.action, "origin": info.origin,
        "subject": info.subject,
        "state": op.state, "outcome": info.outcome, "reason": info.reason, "recovered": info.recovered,
        "compensates": info.compensates, "redoes": info.redoes, "replays": info.replays,
        "compensated_by": info.compensated_by, "effects": [e.to_json(op.state) for e in op.effects],
    }
