"""`verify`: the hash chain, torn or corrupt lines, operations pending, and (with `--expect-head`)
whether lines were deleted from the end since a head printed earlier; from `journal.api.verify`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from journal import api
from journal.codec import bytes_to_json
from operations.cli import context
from operations.cli.exit_codes import OK, REFUSED
from operations.cli.options import CodexHomeOpt, JournalOpt, JsonOpt, head_hash
from operations.cli.output import echo, emit, handles

ExpectHeadOpt = Annotated[str | None, typer.Option(
    "--expect-head", metavar="SHA256", callback=head_hash,
    help="The head hash printed after a run you trust: lines deleted from the end since then are found.")]


@handles("verify")
def verify_cmd(expect_head: ExpectHeadOpt = None, codex_home: CodexHomeOpt = None, journal: JournalOpt = None,
               json_: JsonOpt = False) -> None:
    """Check the hash chain, torn or corrupt lines, and operations left pending. Example: codex-sessions verify"""
    loc = context.locate(codex_home, journal)
    checked = api.verify(loc.journal, expect_head=expect_head)
    if not checked.recorded:
        emit("verify", {"journal": str(loc.journal), "ok": True, "recorded": False, "lines": 0, "problems": [],
                        "pending": [], "pending_by_run": {}, "open_runs": [], "torn_tail": None}, json_,
             lambda: echo(f"nothing has been recorded yet (no journal at {loc.journal}); nothing to verify"))
        return
    emit("verify", _data(checked), json_, lambda: _render(checked), status="ok" if checked.ok else "refused",
         exit_code=OK if checked.ok else REFUSED)


def _data(checked: api.Verification) -> dict[str, Any]:
    result, found, head = checked.scan, checked.head_found_at, checked.expected_head
    return {
        "journal": checked.path, "ok": checked.ok, "lines": result.lines, "journal_id": result.journal_id,
        "head": {"seq": result.last_seq, "sha256": result.last_hash},
        "problems": [asdict(p) for p in result.problems],
        "torn_tail": ({"offset": result.torn.offset, "length": len(result.torn.data),
                       "bytes": bytes_to_json(result.torn.data[:200])} if result.torn else None),
        "pending": sorted(result.pending), "pending_by_run": checked.pending_by_run,
        "open_runs": sorted(result.open_runs),
        "expected_head": ({"sha256": head, "found_at_seq": found,
                           "lines_after_it": None if found is None else result.last_seq - found} if head else None),
    }


def _render(checked: api.Verification) -> None:
    result, found = checked.scan, checked.head_found_at
    echo(f"journal {checked.path}: {result.lines} lines, head seq {result.last_seq} sha256 {result.last_hash}")
    for p in result.problems:
        echo(f"  line {p.line} (offset {p.offset}): {p.kind}: {p.message}")
    if result.torn:
        echo(f"  torn last line at offset {result.torn.offset} ({len(result.torn.data)} bytes); "
             "it will be set aside before the next write")
    for run_id, ops in checked.pending_by_run.items():
        echo(f"  run {run_id}: {len(ops)} operation(s) pending (first {ops[0]}): run `codex-sessions recover`")
    if checked.expected_head:
        echo(f"  the expected head {checked.expected_head} is NOT in this journal: lines were deleted or rewritten"
             if found is None else
             f"  the expected head is line seq {found}; {result.last_seq - found} line(s) after it")
    echo("ok" if checked.ok else "NOT OK")
