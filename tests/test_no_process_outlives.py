"""A run killed at any stage (its audit's worker processes included) never locks the home: the
next write goes ahead at once, and no process of the killed run is left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from fixtures.generator import HomeSpec, build_home
from journal import records
from journal.store import JournalWriter, lock_path
from operations import audit, registry, rollouts
from tests.faultpoints import counting, killed_at, restore_home
from tests.helpers import cli, cli_json, fixed_services

pytestmark = [pytest.mark.crash, pytest.mark.posix,
              pytest.mark.skipif(not hasattr(os, "fork"), reason="kills forked children: POSIX only")]


def _gone(pids: list[int], within_s: float = 10.0) -> list[int]:
    """The pids still running (not zombies) after waiting up to `within_s` for them to exit."""
    deadline = time.monotonic() + within_s
    while True:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def _kill_during_scan(scan_number: int, pids_file: Path, args: list[str]) -> Callable[[], Any]:
    """In the child: the `scan_number`th scan of the home kills this process once its first chunk
    is read, while its worker processes are alive; their pids are written down first."""
    def action() -> None:
        scans = 0
        real = audit.scan_home

        def scan(*a: Any, **kw: Any) -> rollouts.RolloutScan:
            nonlocal scans
            scans += 1
            if scans == scan_number:
                def progress(_n: int) -> None:
                    children = [c.pid for c in psutil.Process().children(recursive=True)]
                    pids_file.write_text(" ".join(map(str, children)))
                    os.kill(os.getpid(), signal.SIGKILL)

                a = (a[0], progress, *a[2:])
            return real(*a, **kw)

        audit.scan_home = scan  # type: ignore[assignment]
        cli(*args)

    return action


def _kill_while_planning(args: list[str]) -> Callable[[], Any]:
    """In the child: die once the audit is done and the plan is being made (the lock is held)."""
    def action() -> None:
        def planner(*_a: Any, **_kw: Any) -> Any:
            os.kill(os.getpid(), signal.SIGKILL)

        registry.plan_migrate_provider = planner  # type: ignore[assignment]
        cli(*args)

    return action


def test_a_run_killed_at_every_stage_never_blocks_the_next_write(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(rollouts.PARALLEL_FROM_ENV, "4")  # a small home is read by worker processes
    home = tmp_path / "home"
    build_home(home, HomeSpec(sessions=10, archived_share=0.0, exec_share=0.0, providers=("openai",), seed=7))
    pristine = tmp_path / "pristine"
    restore_home(home, pristine)
    args = ["run", "migrate-provider", "--apply", "--codex-home", str(home)]
    seen: list[tuple[str, str]] = []
    with counting(seen):
        code, _ = cli_json(*args)
    assert code == 0
    # every kind of stage once (its first point), and the last point of the run
    stages = sorted({next(i for i, (k, _) in enumerate(seen, 1) if k == kind) for kind, _ in seen} | {len(seen)})
    kills = [("scan before", None, 1), ("planning", None, 0), ("scan after", None, 2)]
    kills += [(seen[n - 1][0], n, 0) for n in stages]
    for name, point, scan_number in kills:
        restore_home(pristine, home)
        pids_file = tmp_path / "pids"
        pids_file.unlink(missing_ok=True)
        if scan_number:
            action = _kill_during_scan(scan_number, pids_file, args)
        elif point is None:
            action = _kill_while_planning(args)
        else:
            action = lambda: cli(*args)  # noqa: E731 - killed at its point by killed_at
        status = killed_at(point or 10**9, action)
        assert status == -signal.SIGKILL, (name, status)
        # at once: the next write is never refused for the lock
        code, again = cli_json(*args)
        errors = [e["code"] for e in again["errors"]]
        assert "lock_held" not in errors, (name, again)
        if errors == ["pending_recovery"]:
            code, recovered = cli_json("recover", "--apply", "--codex-home", str(home))
            assert code == 0, (name, recovered)
            code, again = cli_json(*args)
        assert code == 0, (name, again)
        if scan_number:
            workers = [int(p) for p in pids_file.read_text().split()]
            assert workers, f"{name}: the scan had no worker processes"
            assert _gone(workers) == [], f"{name}: worker processes outlived the killed run"
        code, verified = cli_json("verify", "--codex-home", str(home))
        assert code == 0 and verified["data"]["ok"], (name, verified)
    print(f"killed at {len(kills)} stages: {[k[0] for k in kills]}")  # the scans, planning, every kind of point


def test_a_forked_child_keeps_neither_the_lock_nor_the_journal(tmp_path: Path) -> None:
    journal = tmp_path / "j" / "journal.jsonl"
    with JournalWriter(str(journal), fixed_services()) as writer:
        writer.append(records.run_begin("r", "test", [], "test"))  # the journal is opened at its first record
        held = [writer._fd, writer._lock_fd]  # noqa: SLF001 - what a child must not keep
        pid = os.fork()
        if pid == 0:
            kept = 0
            for fd in held:
                try:
                    os.fstat(fd)  # type: ignore[arg-type]
                    kept += 1
                except OSError:
                    pass
            os._exit(kept)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0, "the child still had the journal or its lock open"
        assert os.fstat(writer._lock_fd).st_size > 0  # type: ignore[arg-type] # noqa: SLF001 - still ours
    with JournalWriter(str(journal), fixed_services()):
        pass  # and the lock was released by the parent alone


def _lockable(path: str) -> bool:
    import fcntl

    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


HOLDER = """
import os, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from journal.store import JournalWriter
from tests.helpers import fixed_services
writer = JournalWriter(sys.argv[2], fixed_services())
writer.open()
# a process that inherits the lock's descriptor, as a worker of an older release did, then the holder dies
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], pass_fds=[writer._lock_fd],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(child.pid, flush=True)
os._exit(0)
"""


def test_a_lock_whose_holder_died_is_stale_and_never_blocks(tmp_path: Path) -> None:
    journal = tmp_path / "j" / "journal.jsonl"
    repo = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-c", HOLDER, repo, str(journal)], capture_output=True, text=True,
                         check=True)
    orphan = psutil.Process(int(out.stdout.split()[0]))
    try:
        assert orphan.is_running()
        assert not _lockable(lock_path(str(journal)))  # the orphan still holds the old lock file's lock
        with JournalWriter(str(journal), fixed_services()) as writer:
            assert writer.stale_lock_replaced
            with pytest.raises(Exception, match="another codex-sessions run is writing this journal"):
                JournalWriter(str(journal), fixed_services()).open()  # a live holder is never replaced
        assert not list(journal.parent.glob("*.new"))
    finally:
        orphan.kill()
