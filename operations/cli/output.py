"""Printing: one versioned JSON envelope for --json, human text otherwise.

stdout carries only the payload; progress, warnings and errors go to stderr.
"""

from __future__ import annotations

import functools
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any, ParamSpec, TypeVar, overload

import orjson
import typer

from journal.errors import ToolError, io_failure, io_problem
from operations.cli.exit_codes import REFUSED, exit_code_for
from operations.cli.signals import interrupted_outside_run, stops_at_boundaries

SCHEMA_VERSION = "1"
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class Streamed(Sequence[Any]):
    """A list whose items are built only as they are written: `fix --json` on 50,000 sessions
    never holds every operation's JSON objects at once, only the plans they are made from."""

    def __init__(self, items: Sequence[T], build: Callable[[T], Any]) -> None:
        self._items: Sequence[Any] = items
        self._build: Callable[[Any], Any] = build

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self._build(item) for item in self._items[index]]
        return self._build(self._items[index])

    def __iter__(self) -> Iterator[Any]:
        return (self._build(item) for item in self._items)


def _default(value: Any) -> Any:
    if isinstance(value, Streamed):
        return list(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def to_json_bytes(value: Any) -> bytes:
    options = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    return orjson.dumps(value, default=_default, option=options)


def envelope(command: str, data: Any, *, status: str = "ok", exit_code: int = 0,
             errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "command": command, "status": status,
            "exit_code": exit_code, "data": data, "errors": errors or []}


def print_json(value: Any) -> None:
    write_json(sys.stdout.buffer.write, value)
    sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


LONG_LIST = 1000  # a list longer than this is written item by item


def write_json(write: Callable[[bytes], Any], value: Any, *, long_list: int = LONG_LIST, depth: int = 0) -> None:
    """The bytes `to_json_bytes` gives, written in pieces: a document of 50,000 operations is never
    held whole as one buffer beside the objects it is made from (the `fix --json` dry run's peak).
    Dicts with text keys and short lists are walked; a long list, and a `Streamed` one, is
    written one whole item at a time; the rest, and anything `_default` would convert, is left
    to orjson."""
    pad = b"  " * depth
    if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
        write(b"{\n")
        for n, key in enumerate(sorted(value)):
            write((b",\n" if n else b"") + pad + b"  " + orjson.dumps(key) + b": ")
            write_json(write, value[key], long_list=long_list, depth=depth + 1)
        write(b"\n" + pad + b"}")
    elif isinstance(value, (list, Streamed)) and value:
        write(b"[\n")
        whole = isinstance(value, Streamed) or len(value) > long_list  # each item in one piece
        inner = b"\n" + pad + b"  "
        for n, item in enumerate(value):
            write((b",\n" if n else b"") + pad + b"  ")
            if whole:  # a JSON string never holds a raw newline: each line of the item is indented
                write(inner.join(to_json_bytes(item).split(b"\n")))
            else:  # a short list is walked, so a Streamed list inside it is written as it is built
                write_json(write, item, long_list=long_list, depth=depth + 1)
        write(b"\n" + pad + b"]")
    else:
        data = to_json_bytes(value)
        write(data.replace(b"\n", b"\n" + pad) if depth else data)


def emit(command: str, data: Any, json_: bool, human: Callable[[], None], *, status: str = "ok",
         exit_code: int = 0) -> None:
    if json_:
        print_json(envelope(command, data, status=status, exit_code=exit_code))
    else:
        human()
    if exit_code:
        raise typer.Exit(exit_code)


def stream_json(command: str, items: Iterable[Any], key: str) -> None:
    """Print the envelope with `data[key]` streamed item by item (bounded memory)."""
    out = sys.stdout.buffer
    out.write(b'{"command":' + orjson.dumps(command) + b',"data":{' + orjson.dumps(key) + b":[")
    pending: list[bytes] = []
    dumps, option = orjson.dumps, orjson.OPT_SORT_KEYS
    separator = b"\n"  # before the first item; then between items
    for item in items:
        pending.append(dumps(item, default=_default, option=option))
        if len(pending) >= 4096:  # one write per few thousand items, not two per item
            out.write(separator + b",\n".join(pending))
            separator = b",\n"
            pending.clear()
    if pending:
        out.write(separator + b",\n".join(pending))
    out.write(b'\n]},"errors":[],"exit_code":0,"schema_version":"1","status":"ok"}\n')
    out.flush()


def echo(text: str = "") -> None:
    typer.echo(text)


def warn(text: str) -> None:
    typer.echo(text, err=True)


def unreadable_database(exc: sqlite3.DatabaseError) -> ToolError:
    """SQLite failed on a database of this home after the checks up front passed (damage in a
    page they did not read): the documented exit 1, `database_damaged`, never a traceback."""
    from operations.schema import RECOVERY_ADVICE, DatabaseDamaged

    return DatabaseDamaged(f"SQLite could not read a database of this home: {exc}. It looks damaged; nothing was "
                           f"changed. {RECOVERY_ADVICE}", details={"advice": RECOVERY_ADVICE})


def handles(command: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The one boundary where expected failures become messages and exit codes: a ToolError, a
    signal (exit 130), and the disk refusing a write anywhere (`io_error`), never a traceback."""

    def wrap(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            with stops_at_boundaries():
                try:
                    return func(*args, **kwargs)
                except ToolError as exc:
                    error = exc
                except KeyboardInterrupt:
                    error = interrupted_outside_run("codex-sessions")
                except (OSError, sqlite3.Error) as exc:
                    if io_problem(exc):
                        error = io_failure(exc, f"{command}: reading or writing", UNKNOWN_LEFT)
                    elif isinstance(exc, sqlite3.DatabaseError):  # where no closer check named the database
                        error = unreadable_database(exc)
                    else:
                        raise
                _report(command, error, bool(kwargs.get("json_")))
            raise AssertionError("unreachable")  # pragma: no cover

        return inner

    return wrap


UNKNOWN_LEFT = ("If a run was under way, `codex-sessions verify` says whether operations were left pending, and "
                "`codex-sessions recover --apply` settles them once the disk has room (or works) again")


def _report(command: str, exc: ToolError, json_: bool) -> None:
    code = exit_code_for(exc)
    if json_:
        status = "refused" if code == REFUSED else "interrupted" if exc.category == "interrupted" else "error"
        print_json(envelope(command, None, status=status, exit_code=code,
                            errors=[{"code": exc.code, "message": exc.message, **exc.details}]))
    else:
        typer.echo(f"codex-sessions {command}: {exc.message}", err=True)
    raise typer.Exit(code) from None


def scan_progress(json_: bool) -> Callable[[int], None] | None:
    """Progress on stderr while the home's rollouts are read (a terminal only; never in --json)."""
    if json_ or not sys.stderr.isatty():
        return None

    def show(n: int) -> None:
        sys.stderr.write(f"\rreading rollouts: {n}")
        sys.stderr.flush()

    return show
