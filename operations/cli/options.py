"""Options every command shares, declared once, and the parsing they need."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from journal.errors import NotFound, UsageProblem
from operations.audit import AuditReport
from operations.repair.common import ThreadFilter
from operations.repair.cwd import Mapping, read_map

CodexHomeOpt = Annotated[
    str | None, typer.Option("--codex-home", metavar="PATH", help="Codex home (default: $CODEX_HOME or ~/.codex).")
]
JournalOpt = Annotated[
    str | None,
    typer.Option(
        "--journal", metavar="PATH",
        help="Journal file (default: $CODEX_SESSIONS_JOURNAL, else <codex-home>/codex-sessions/journal.jsonl).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", metavar="", help="Print one JSON document on stdout.")]
ApplyOpt = Annotated[bool, typer.Option("--apply", metavar="", help="Make the changes; without it, only show them.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", metavar="",
                                          help="List every operation with every effect.")]
DbOpt = Annotated[str | None, typer.Option("--db", metavar="PATH",
                                           help="The state database, when two candidates exist.")]
ThreadOpt = Annotated[list[str] | None, typer.Option(
    "--thread", metavar="ID", help="Only this thread (repeatable; a unique prefix will do).")]
ProviderOpt = Annotated[str | None, typer.Option("--provider", metavar="P", help="Only threads of this provider.")]
CwdOpt = Annotated[str | None, typer.Option("--cwd", metavar="DIR",
                                            help="Only threads whose cwd is this folder or below.")]
SinceOpt = Annotated[str | None, typer.Option(
    "--since", metavar="DATE",
    help="Only threads created at or after DATE (YYYY-MM-DD or ISO 8601, UTC unless it names a zone).")]
UntilOpt = Annotated[str | None, typer.Option(
    "--until", metavar="DATE", help="Only threads created before DATE (same format as --since).")]
FromStyleOpt = Annotated[str, typer.Option(
    "--from-style", metavar="STYLE",
    help="How the old folders are spelled: posix, windows or wsl (windows and wsl also match /mnt/c/… for C:\\…).")]
MapOpt = Annotated[str | None, typer.Option(
    "--map", metavar="FILE", help="Folder pairs: FROM<TAB>TO (or FROM -> TO), one a line.")]


def parse_date(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageProblem(f"{name} {value!r} is not a date (use YYYY-MM-DD or an ISO timestamp)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def thread_filter(thread: list[str] | None, provider: str | None, cwd: str | None, since: str | None,
                  until: str | None) -> ThreadFilter:
    return ThreadFilter(tuple(thread or ()), provider, cwd.rstrip("/") if cwd else None,
                        parse_date(since, "--since"), parse_date(until, "--until"))


def require_known_threads(flt: ThreadFilter, report: AuditReport) -> None:
    """A --thread that names nothing in this home is a mistake to say, not an empty plan."""
    for ref in flt.threads:
        if not any(t.id == ref.lower() or t.id.startswith(ref.lower()) for t in report.threads):
            raise NotFound(f"no thread {ref!r} in {report.codex_dir} (neither a row nor a rollout file)")


def cwd_mappings(sources: list[str] | None, targets: list[str] | None, map_file: str | None) -> list[Mapping]:
    """Folder rewrites from --from/--to pairs and a --map file."""
    sources, targets = sources or [], targets or []
    if len(sources) != len(targets):
        raise UsageProblem("give the old and the new folders in pairs")
    pairs = [Mapping(s, t) for s, t in zip(sources, targets, strict=True)]
    if map_file:
        try:
            text = Path(map_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageProblem(f"cannot read --map {map_file}: {exc}") from None
        pairs += read_map(text)
    return pairs


def apply_progress(json_: bool) -> Callable[[int, int], None] | None:
    """`applying N/M` on a terminal's stderr; nothing in --json or when piped."""
    if json_ or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        sys.stderr.write(f"\rapplying {done}/{total}" + ("\n" if done == total else ""))
        sys.stderr.flush()

    return show
