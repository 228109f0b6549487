"""Options every command shares, declared once, and the parsing they need."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from journal.errors import UsageProblem
from journal.prefix import resolve_prefix
from operations.audit_model import AuditReport, ThreadAudit
from operations.path_spelling import STYLES, key
from operations.repair.cwd import Mapping, read_map
from operations.repair.selection import ThreadFilter


def non_empty(value: Any) -> Any:
    """An option given as '' (an unset shell variable) is a mistake to say, never "no filter"."""
    items: list[str] = [value] if isinstance(value, str) else list(value or [])
    for item in items:
        if not item.strip():
            raise typer.BadParameter("is empty; give a value, or leave the option out")
    return value


def absolute_folder(value: str | None) -> str | None:
    """A folder as Codex records one: absolute (POSIX, a drive, a share or a WSL path)."""
    if value is not None:
        non_empty(value)
        if key(value, "wsl").kind == "relative":
            raise typer.BadParameter(f"{value!r} is relative; give an absolute folder")
    return value


def from_style(value: str) -> str:
    if value not in STYLES:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(STYLES)}")
    return value


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
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", metavar="",
                                          help="List every operation with every effect.")]
DbOpt = Annotated[str | None, typer.Option("--db", metavar="PATH", callback=non_empty,
                                           help="The state database, when two candidates exist.")]
ThreadOpt = Annotated[list[str] | None, typer.Option(
    "--thread", metavar="ID", callback=non_empty,
    help="Only this thread (repeatable): its id, or a prefix that names only it (any case); an ambiguous "
         "prefix is an error listing what it could mean.")]
ProviderOpt = Annotated[str | None, typer.Option("--provider", metavar="P", callback=non_empty,
                                                 help="Only threads of this provider.")]
CwdOpt = Annotated[str | None, typer.Option("--cwd", metavar="DIR", callback=non_empty,
                                            help="Only threads whose cwd is this folder or below (a relative DIR is "
                                                 "taken from the current folder).")]
SinceOpt = Annotated[str | None, typer.Option(
    "--since", metavar="DATE", callback=non_empty,
    help="Only threads created at or after DATE (YYYY-MM-DD or ISO 8601, UTC unless it names a zone).")]
UntilOpt = Annotated[str | None, typer.Option(
    "--until", metavar="DATE", callback=non_empty,
    help="Only threads created before DATE (same format as --since; after --since when both are given).")]
FromStyleOpt = Annotated[str, typer.Option(
    "--from-style", metavar="STYLE", callback=from_style,
    help="How the old folders are spelled: posix, windows or wsl (windows and wsl also match /mnt/c/… for C:\\…).")]
MapOpt = Annotated[str | None, typer.Option(
    "--map", metavar="FILE", callback=non_empty,
    help="Folder pairs: FROM<TAB>TO (or FROM -> TO), one a line; both absolute.")]


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
    """The filters as given; `--thread` values are resolved against the home later
    (`require_known_threads`), once it has been audited."""
    for name, value in (("--thread", thread), ("--provider", provider), ("--cwd", cwd), ("--since", since),
                        ("--until", until)):
        for item in [value] if isinstance(value, str) else value or []:
            if not item.strip():
                raise UsageProblem(f"{name} is empty; give a value, or leave the option out")
    start, end = parse_date(since, "--since"), parse_date(until, "--until")
    if start and end and start >= end:
        raise UsageProblem(f"--since {since} is not before --until {until}: no thread can be created in between")
    folder = None
    if cwd is not None:
        folder = cwd if key(cwd, "wsl").kind != "relative" else os.path.abspath(cwd)
        folder = folder.rstrip("/") or "/"
    refs = tuple(dict.fromkeys(ref.strip().lower() for ref in thread or ()))
    return ThreadFilter(refs, provider, folder, start, end)


def describe_thread(t: ThreadAudit) -> str:
    """A few words that tell threads apart in an ambiguity error."""
    facts = t.facts
    where = f"{facts.provider}, {facts.cwd or 'no cwd'}" if facts else "no readable rollout"
    return f"{'row' if t.row is not None else 'file only'}, {where}"


def resolve_thread(ref: str, report: AuditReport) -> ThreadAudit:
    """The one thread `ref` names in this home (its id, or a prefix only it has)."""
    by_id = {t.id: t for t in report.threads}
    full = resolve_prefix(ref, by_id, noun="thread", where=f"{report.codex_dir} (neither a row nor a rollout file)",
                          describe=lambda i: describe_thread(by_id[i]))
    return by_id[full]


def require_known_threads(flt: ThreadFilter, report: AuditReport) -> ThreadFilter:
    """Each --thread names exactly one thread of this home: the filter with their full ids.

    One that names nothing is NotFound, not an empty plan; an ambiguous prefix is refused with
    what it could mean, never taken as all of them."""
    if not flt.threads:
        return flt
    ids = tuple(dict.fromkeys(resolve_thread(ref, report).id for ref in flt.threads))
    return replace(flt, threads=ids)


def cwd_mappings(sources: list[str] | None, targets: list[str] | None, map_file: str | None) -> list[Mapping]:
    """Folder rewrites from --from/--to pairs and a --map file; every folder absolute (a cwd Codex
    recorded always is, so a relative or empty one could only match nothing, or the wrong thing)."""
    sources, targets = sources or [], targets or []
    if len(sources) != len(targets):
        raise UsageProblem("give the old and the new folders in pairs")
    pairs = [Mapping(s, t) for s, t in zip(sources, targets, strict=True)]
    if map_file:
        try:
            text = Path(map_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageProblem(f"cannot read --map {map_file}: {exc}") from None
        pairs += read_map(text)
    for pair in pairs:
        for folder in (pair.source, pair.target):
            if not folder.strip():
                raise UsageProblem("an empty folder was given; folders are rewritten from one absolute folder to "
                                   "another")
            if key(folder, "wsl").kind == "relative":
                raise UsageProblem(f"{folder!r} is a relative folder; give absolute folders (as Codex records a cwd), "
                                   "e.g. /home/me/proj or C:\\Users\\me\\proj")
    return pairs


def apply_progress(json_: bool) -> Callable[[int, int], None] | None:
    """`applying N/M` on a terminal's stderr; nothing in --json or when piped."""
    if json_ or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        sys.stderr.write(f"\rapplying {done}/{total}" + ("\n" if done == total else ""))
        sys.stderr.flush()

    return show
