"""Make a command meet a fault at its Nth write, fsync, rename or commit (`journal.faults`), or
die there (SIGKILL in a forked child), or be interrupted there (SIGINT to itself).

The points are the ones the file and database layer names before each such call; a command is
first run once with a counting hook to learn how many it has, then once per point.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journal import faults

SQL_KINDS = ("sql", "commit", "backup")


@contextmanager
def counting(into: list[tuple[str, str]]) -> Iterator[None]:
    """Record every point reached, changing nothing."""
    with faults.injected(lambda kind, path: into.append((kind, path))):
        yield


def disk_error(kind: str, path: str, code: int) -> BaseException:
    """What the OS or SQLite raises there when the disk is full (ENOSPC) or failing (EIO)."""
    if kind in SQL_KINDS:
        return sqlite3.OperationalError("database or disk is full" if code == errno.ENOSPC else "disk I/O error")
    return OSError(code, os.strerror(code), path)


@contextmanager
def failing_at(number: int, code: int, seen: list[tuple[str, str]] | None = None) -> Iterator[None]:
    """The `number`th point raises ENOSPC or EIO (once); every other point passes."""
    count = 0

    def hook(kind: str, path: str) -> None:
        nonlocal count
        count += 1
        if count == number:
            if seen is not None:
                seen.append((kind, path))
            raise disk_error(kind, path, code)

    with faults.injected(hook):
        yield


@contextmanager
def interrupted_at(number: int) -> Iterator[None]:
    """At the `number`th point the process sends itself SIGINT (the handler runs right after)."""
    count = 0

    def hook(_kind: str, _path: str) -> None:
        nonlocal count
        count += 1
        if count == number:
            os.kill(os.getpid(), signal.SIGINT)

    with faults.injected(hook):
        yield


def killed_at(number: int, action: Callable[[], Any]) -> int:
    """Run `action` in a forked child that SIGKILLs itself at its `number`th point; returns the
    child's exit status (-9 when it was killed there, else its exit code)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            count = 0

            def hook(_kind: str, _path: str) -> None:
                nonlocal count
                count += 1
                if count == number:
                    os.kill(os.getpid(), signal.SIGKILL)

            faults.install(hook)
            import itertools

            from operations.cli import context
            from tests.helpers import fixed_services
            from tests.journal import world

            # ids of its own: the child's copy of the id source would repeat the parent's next ones
            # (a run id used twice is a journal of no valid shape)
            world._seeds = itertools.count(1_000_000 + os.getpid() * 1000)  # noqa: SLF001
            context.make_services = lambda: fixed_services(seed=1_000_000 + os.getpid())
            action()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - report as a plain failure code
            code = 99
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def restore_home(pristine: Path, home: Path) -> Path:
    """Put back, at the same path (rows hold absolute paths), a byte-for-byte copy of a home
    with its mtimes: a fresh one for each fault."""
    if home.exists():
        shutil.rmtree(home)
    shutil.copytree(pristine, home, copy_function=shutil.copy2, symlinks=True)
    return home


@dataclass
class Scenario:
    """A command on a home, and what `recover` must bring it to whatever happens midway: the state
    `before` it once what stands of it is undone, or the state `after` it once it is done again.

    `finish`: the command that does the rest after a recovery (default: the command again);
    `after` is None where a second run cannot give the same bytes (a fresh clock touches mtimes)."""

    home: Path
    pristine: Path
    args: list[str]
    before: dict[str, Any]
    after: dict[str, Any] | None
    finish: list[str]
    runs_before: set[str]
    points: list[tuple[str, str]]

    def restore(self) -> None:
        restore_home(self.pristine, self.home)


def prepare(home: Path, pristine: Path, args: list[str], *, finish: list[str] | None = None,
            compare_after: bool = True) -> Scenario:
    """Save the home as it is, run `args` once counting its points, and put the home back."""
    from tests.codexhome import snapshot
    from tests.helpers import cli_json

    restore_home(home, pristine)
    before = snapshot(home)
    runs_before = _runs(home)
    seen: list[tuple[str, str]] = []
    with counting(seen):
        code, out = cli_json(*args)
    assert code == 0, out
    after = snapshot(home) if compare_after else None
    scenario = Scenario(home, pristine, args, before, after, finish or args, runs_before, seen)
    scenario.restore()
    return scenario


def _runs(home: Path) -> set[str]:
    from journal.index import JournalIndex

    journal = home / "codex-sessions" / "journal.jsonl"
    return set(JournalIndex.load(str(journal)).runs) if journal.exists() else set()


def settle_and_check(sc: Scenario, label: str, *, finish: bool = True, take_back: bool = True) -> dict[str, Any]:
    """`recover --apply` settles everything (nothing foreign, nothing pending, the journal valid);
    doing the rest (`finish`) gives the `after` bytes; undoing every run made since (`take_back`)
    gives the `before` bytes (which also proves what stood was exactly the after values: undo
    compares every target with them first)."""
    from journal.index import JournalIndex
    from tests.codexhome import snapshot
    from tests.helpers import cli_json

    home = ["--codex-home", str(sc.home)]
    code, recovered = cli_json("recover", "--apply", *home)
    assert code == 0 and not recovered["data"]["foreign"], (label, recovered)
    code, verified = cli_json("verify", *home)
    assert code == 0 and verified["data"]["ok"], (label, verified)
    if finish:
        code, done = cli_json(*sc.finish)  # writes go on: the rest is done
        assert code == 0 or (code == 2 and "nothing to" in done["errors"][0]["message"]), (label, done)
        if sc.after is not None:
            assert snapshot(sc.home) == sc.after, f"{label}: the home is not at its after state"
    if not take_back:
        return recovered
    journal = sc.home / "codex-sessions" / "journal.jsonl"
    if not journal.exists():  # the fault came before the first record: nothing may have changed
        assert snapshot(sc.home) == sc.before, f"{label}: no journal, yet the home changed"
        return recovered
    index = JournalIndex.load(str(journal))
    for run in sorted(set(index.runs) - sc.runs_before, key=lambda r: index.runs[r].seq, reverse=True):
        if any(index.in_effect(op) for op in index.runs[run].op_ids):
            code, undone = cli_json("undo", run, "--apply", *home)
            assert code == 0, (label, undone)
            index = JournalIndex.load(str(sc.home / "codex-sessions" / "journal.jsonl"))
    assert snapshot(sc.home) == sc.before, f"{label}: the home is not at its before state"
    return recovered
