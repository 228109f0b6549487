"""`recover`: what a crash left pending, judged by the real state of its targets; with `--apply`,
settled through `operations.compensate.recover` (the engine's sequence with this home's gate)."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Annotated

import typer

from journal import Recovery
from operations import compensate
from operations.cli import context
from operations.cli.exit_codes import OK, REFUSED
from operations.cli.options import ApplyOpt, CodexHomeOpt, JournalOpt, JsonOpt
from operations.cli.output import echo, emit, handles

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
    loc, services = context.locate(codex_home, journal), context.make_services()
    found = compensate.recover(loc, services, sys.argv[1:], apply=apply, accept=tuple(accept or ()))
    if not found.recorded:  # as log and verify: nothing recorded, nothing to settle
        emit("recover", {"dry_run": not apply, "run": None, "operations": [], "open_runs": [], "foreign": [],
                         "accept": [], "recorded": False}, json_,
             lambda: echo(f"nothing to recover (no journal at {loc.journal}: nothing has been recorded yet)"))
        return
    accept_commands = [services.tool.command("recover", apply=True, accept=i.op_id) for i in found.foreign]
    data = {"dry_run": not apply, "run": found.run_id, "operations": [asdict(i) for i in found.items],
            "open_runs": list(found.open_runs), "foreign": [i.op_id for i in found.foreign],
            "accept": accept_commands, "would_refuse": found.refusal}
    code = REFUSED if found.foreign and apply else OK
    emit("recover", data, json_, lambda: _render(found, apply, accept_commands), status="refused" if code else "ok",
         exit_code=code)


def _render(found: Recovery, apply: bool, accept_commands: list[str]) -> None:
    if not found.items and not found.open_runs:
        echo("nothing to recover")
    for i in found.items:
        echo(f"  {i.op_id}  {i.verdict:<11} {i.label}: {i.reason}")
    for r in found.open_runs:
        echo(f"  run {r} never ended; it will be marked interrupted")
    if found.refusal and not apply:
        echo(f"would refuse: {found.refusal}")
    elif found.items and not apply:
        echo("dry run: add --apply to settle them and record their outcomes")
    if found.foreign and apply:
        echo(f"{len(found.foreign)} operation(s) left pending: a target holds a value this journal never wrote. "
             "Everything else is settled. Look at each (`codex-sessions show OP`), then record it as "
             "abandoned, keeping what its targets hold:")
        for command in accept_commands:
            echo(f"  {command}")
