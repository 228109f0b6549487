"""`transcript`: read-only; one session as a person reads it, as Markdown, HTML or JSON."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from journal.errors import UsageProblem
from journal.guard import within_roots
from operations.cli.options import CodexHomeOpt, DbOpt, JsonOpt
from operations.cli.output import echo, envelope, handles, print_json
from operations.errors import OutputRefused
from operations.home import CodexHome, discover
from operations.locations import resolve_codex_home
from operations.transcript import RENDERERS, Redactor, Transcript, build_transcript, index_home, resolve
from operations.transcript.render_common import Sink
from operations.transcript.render_json import header_data, render_entries_json

FORMATS = tuple(RENDERERS)


def output_target(output: str, home: CodexHome) -> Path:
    """Where `-o` may write: a new file, never one that exists, never inside the Codex home or its
    SQLite home (this command is read-only there, like `audit`)."""
    path = Path(output).expanduser().absolute()
    if os.path.lexists(path):
        raise OutputRefused(f"{path} exists; transcript never overwrites a file: choose another name",
                            details={"path": str(path)})
    if not path.parent.is_dir():
        raise UsageProblem(f"cannot write {path}: no folder {path.parent}")
    roots = [os.path.realpath(home.codex_home), os.path.realpath(home.sqlite_home)]
    if within_roots(str(path), roots):
        raise OutputRefused(f"{path} is inside the Codex home {home.codex_home}; transcript only reads there: "
                            "write the file somewhere else", details={"path": str(path)})
    return path


def write_new_file(path: Path, render: Any, transcript: Transcript) -> int:
    """Created exclusively (a file that appeared meanwhile is not overwritten); removed again if
    rendering fails halfway."""
    try:
        handle = open(path, "x", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed below
    except FileExistsError:
        raise OutputRefused(f"{path} exists; transcript never overwrites a file: choose another name",
                            details={"path": str(path)}) from None
    except OSError as exc:
        raise UsageProblem(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with handle:
            count: int = render(transcript, handle.write)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return count


def _stdout() -> Sink:
    out = sys.stdout.buffer

    def write(text: str) -> None:
        out.write(text.encode("utf-8", "surrogateescape"))

    return write


def _stream_envelope(transcript: Transcript) -> None:
    """The --json envelope with the structured transcript, its entries written one by one."""
    write = _stdout()
    data = orjson.dumps(header_data(transcript.header)).decode()
    write('{"command":"transcript","data":' + data[:-1] + ',"entries":')
    render_entries_json(transcript, write)
    write('},"errors":[],"exit_code":0,"schema_version":"1","status":"ok"}\n')
    sys.stdout.buffer.flush()


@handles("transcript")
def transcript_cmd(
    thread: Annotated[str, typer.Argument(metavar="THREAD", help="A thread id, or a unique prefix of one.")],
    format_: Annotated[str, typer.Option(
        "--format", "-f", metavar="FORMAT", help="markdown (default), html (one self-contained page) or json.",
    )] = "markdown",
    output: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE",
        help="Write to this new file (never overwritten, never inside the Codex home) instead of stdout.")] = None,
    redact_: Annotated[bool, typer.Option(
        "--redact", metavar="",
        help="Hide paths, ids and provider names as `audit --redact` does; the words are kept.")] = False,
    codex_home: CodexHomeOpt = None,
    db: DbOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Show one session as a person reads it: messages in order, tool calls folded, compactions and
    forks marked. Read-only; works on archived, other providers' and orphan sessions too.
    Example: codex-sessions transcript 01a2 -f html -o session.html"""
    if format_ not in FORMATS:
        raise UsageProblem(f"--format {format_!r}: choose one of {', '.join(FORMATS)}")
    home = discover(resolve_codex_home(codex_home), db)
    target = output_target(output, home) if output else None
    index = index_home(home)
    thread_id = resolve(index, thread)
    current = None if home.config.error else home.config.model_provider
    transcript = build_transcript(index, thread_id, current_provider=current)
    if redact_:
        config = home.config
        transcript = Redactor.for_header(transcript.header, (config.model_provider, *config.providers)) \
            .transcript(transcript)
    render = RENDERERS[format_]
    if target is not None:
        count = write_new_file(target, render, transcript)
        data = {"written": str(target), "format": format_, "thread": transcript.header.thread_id,
                "entries": count, "bytes": target.stat().st_size, "redacted": redact_}
        if json_:
            print_json(envelope("transcript", data))
        else:
            echo(f"wrote {count} entries of {transcript.header.thread_id} to {target} ({format_}, "
                 f"{data['bytes']:,} bytes)")
        return
    if json_:
        _stream_envelope(transcript)
        return
    render(transcript, _stdout())
    sys.stdout.buffer.flush()
