"""`log`: runs and operations (or, with `--runs`, runs alone), newest first, from `journal.api.log`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from journal import LogHealth, UsageProblem, api
from journal.records import titled
from operations.cli import context
from operations.cli.options import CodexHomeOpt, JournalOpt, JsonOpt, non_empty
from operations.cli.output import echo, emit, handles, stream_json, warn

OP_LINKS = ("redoes", "compensates", "replays")
RUN_LINKS = ("undoes", "redoes", "replays")

RunOpt = Annotated[str | None, typer.Option("--run", metavar="ID", callback=non_empty,
                                            help="Only runs whose id starts with this (any case).")]
OpOpt = Annotated[str | None, typer.Option("--op", metavar="ID", callback=non_empty,
                                           help="Only operations whose id starts with this (any case).")]
TargetOpt = Annotated[str | None, typer.Option("--target", metavar="TEXT", callback=non_empty,
                                               help="Only operations touching a path or row containing this text.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", metavar="N", min=1, help=(
    "Stop after the N newest operations (the run lines above them are not counted); "
    "with --runs, after the N newest runs."))]
RunsOpt = Annotated[bool, typer.Option("--runs", metavar="", help=(
    "One line per run, no operations: its command, status, counts, and the run it undoes, redoes or replays."))]


@handles("log")
def log_cmd(run: RunOpt = None, op: OpOpt = None, target: TargetOpt = None, limit: LimitOpt = None,
            runs: RunsOpt = False, codex_home: CodexHomeOpt = None, journal: JournalOpt = None,
            json_: JsonOpt = False) -> None:
    """List runs and operations, newest first. Example: codex-sessions log --runs --limit 20"""
    if runs and (op or target):
        raise UsageProblem("--runs lists runs only: it takes no --op or --target (use --run to pick runs)")
    loc = context.locate(codex_home, journal)
    listing = api.log(loc.journal, run=run, op=op, target=target, limit=limit, runs=runs)
    if not listing.recorded:
        emit("log", {"journal": str(loc.journal), "entries": [], "recorded": False}, json_,
             lambda: echo(f"nothing has been recorded yet (no journal at {loc.journal})"))
        return
    if json_:
        stream_json("log", listing.entries, "entries")
    else:
        for item in listing.entries:
            echo(log_line(item))
    warn_damage(listing.health())


def log_line(item: dict[str, Any]) -> str:
    """One entry as people read it: a run with its counts and links; an operation indented under
    it with its state and title (`undo of LABEL`)."""
    if item["type"] == "run":
        counts = ", ".join(f"{v} {k}" for k, v in sorted(item["counts"].items()) if v) or "no operations"
        links = item.get("links") or {}
        link = "".join(f"  ({k} {links[k]})" for k in RUN_LINKS if k in links)
        return f"run {item['run']}  {item['ts']}  {item['command']}  [{item['status']}]  {counts}{link}"
    link = next((f" ({k} {item[k]})" for k in OP_LINKS if k in item), "")
    line = f"  op {item['op']}  {item['state']:<11} {titled(item['label'], item.get('action'))}{link}"
    return line + (f"\n      reason: {item['reason']}" if item["reason"] else "")


def warn_damage(health: LogHealth) -> None:
    if health.ok:
        return
    where = f"after line seq {health.damaged_at_seq}" if health.damaged_at_seq is not None else ""
    warn(f"WARNING: the journal's hash chain is broken {where}"
         + (f"; {health.unreadable_lines} line(s) cannot be read" if health.unreadable_lines else "")
         + ": what is listed may be incomplete or altered. `codex-sessions verify` says where")
