"""Options every command shares, declared once, and the parsing they need."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from journal.errors import UsageProblem
from operations import option_values


def non_empty(value: Any) -> Any:
    """`option_values.non_empty` as a typer callback: the same rule, said as a bad parameter."""
    try:
        return option_values.non_empty(value)
    except UsageProblem as exc:
        raise typer.BadParameter(exc.message) from None


def head_hash(value: str | None) -> str | None:
    text = None if value is None else value.strip().lower()
    if text is not None and (len(text) != 64 or any(c not in "0123456789abcdef" for c in text)):
        raise typer.BadParameter("is not a sha256 (64 hexadecimal characters, as printed after a run)")
    return text


CodexHomeOpt = Annotated[
    str | None, typer.Option("--codex-home", metavar="PATH", callback=non_empty,
                             help="Codex home (default: $CODEX_HOME or ~/.codex).")
]
JournalOpt = Annotated[
    str | None,
    typer.Option(
        "--journal", metavar="PATH", callback=non_empty,
        help="Journal file, not a folder (default: $CODEX_SESSIONS_JOURNAL, else "
             "<codex-home>/codex-sessions/journal.jsonl).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", metavar="", help="Print one JSON document on stdout.")]
ApplyOpt = Annotated[bool, typer.Option("--apply", metavar="", help="Make the changes; without it, only show them.")]
DbOpt = Annotated[str | None, typer.Option("--db", metavar="PATH", callback=non_empty,
                                           help="The state database, when two candidates exist.")]


def apply_progress(json_: bool) -> Callable[[int, int], None] | None:
    """`applying N/M` on a terminal's stderr; nothing in --json or when piped."""
    if json_ or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        sys.stderr.write(f"\rapplying {done}/{total}" + ("\n" if done == total else ""))
        sys.stderr.flush()

    return show
