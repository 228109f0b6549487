"""The per-OS adapters, tested here on Linux through their injected seams: Darwin's
`struct flock`, the Windows lock probe, retries on sharing violations, Windows path
spellings in rows, and the CLI with every POSIX-only module made unimportable."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.generator import HomeSpec, build_home
from journal.platform import FileBusy, with_retry
from operations.lock_probes import DARWIN_FLOCK, LINUX_FLOCK, SOME_PROCESS, PosixProbe, WindowsProbe
from operations.path_spelling import home_of_rollout, is_inside, same_path, spelled_like
from operations.processes import _is_codex
from operations.running import check_running

REPO = Path(__file__).resolve().parents[1]


def test_darwin_struct_flock_follows_the_header_layout() -> None:
    # <sys/fcntl.h> on Darwin: off_t l_start; off_t l_len; pid_t l_pid; short l_type; short l_whence;
    # F_GETLK 7, F_RDLCK 1, F_UNLCK 2, F_WRLCK 3
    packed = DARWIN_FLOCK.pack(DARWIN_FLOCK.F_WRLCK, 128, 1)
    assert len(packed) == 24
    assert packed == struct.pack("<qqihh", 128, 1, 0, 3, 0)
    assert DARWIN_FLOCK.F_GETLK == 7
    answer = DARWIN_FLOCK.unpack(struct.pack("<qqihh", 128, 1, 4242, 1, 0))
    assert answer == {"l_start": 128, "l_len": 1, "l_pid": 4242, "l_type": 1, "l_whence": 0}


def test_linux_struct_flock_follows_the_header_layout() -> None:
    # <bits/fcntl.h> on x86-64 Linux: short l_type; short l_whence; off_t l_start; off_t l_len; pid_t l_pid;
    packed = LINUX_FLOCK.pack(LINUX_FLOCK.F_WRLCK, 128, 1)
    assert packed == struct.pack("<hh4xqqi4x", 1, 0, 128, 1, 0) and LINUX_FLOCK.F_GETLK == 5


@pytest.mark.parametrize(("held_by", "expected"), [(4242, 4242), (None, None)])
def test_the_darwin_probe_reads_the_pid_of_a_database_user(tmp_path: Path, held_by: int | None,
                                                          expected: int | None) -> None:
    db = tmp_path / "state_5.sqlite"
    (tmp_path / "state_5.sqlite-shm").write_bytes(b"\0" * 256)
    asked: list[dict[str, int]] = []

    def darwin_fcntl(fd: int, op: int, arg: bytes) -> bytes:
        assert op == 7  # F_GETLK on Darwin
        request = DARWIN_FLOCK.unpack(arg)
        asked.append(request)
        if held_by is None:
            return DARWIN_FLOCK.pack(DARWIN_FLOCK.F_UNLCK, 128, 1)
        return DARWIN_FLOCK.pack(1, 128, 1, pid=held_by)  # a shared (read) lock, as SQLite holds it

    probe = PosixProbe(DARWIN_FLOCK, fcntl_call=darwin_fcntl)
    assert probe.database_user(db) == expected
    assert asked == [{"l_start": 128, "l_len": 1, "l_pid": 0, "l_type": 3, "l_whence": 0}]


class FakeWindowsLocks:
    """LockFile semantics on byte ranges, with some ranges held by 'another process'."""

    def __init__(self, folder: Path, held: set[tuple[str, int]]) -> None:
        self.held = held
        self.calls: list[tuple[str, str, int, int]] = []
        self.names = {p.stat().st_ino: p.name for p in folder.rglob("*") if p.is_file()}

    def _name(self, fd: int) -> str:
        return self.names[os.fstat(fd).st_ino]

    def try_lock(self, fd: int, offset: int, length: int) -> bool:
        self.calls.append(("lock", self._name(fd), offset, length))
        return (self._name(fd), offset) not in self.held

    def unlock(self, fd: int, offset: int, length: int) -> None:
        self.calls.append(("unlock", self._name(fd), offset, length))


def test_the_windows_probe_decides_without_truncating_or_deleting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    locks = home / "thread-writer-locks"
    locks.mkdir(parents=True)
    (locks / "busy.lock").write_bytes(b"codex wrote this")
    (locks / "idle.lock").write_bytes(b"")
    (home / "state_5.sqlite").write_bytes(b"")
    (home / "state_5.sqlite-shm").write_bytes(b"\0" * 256)
    api = FakeWindowsLocks(home, {("busy.lock", 0), ("state_5.sqlite-shm", 128)})
    probe = WindowsProbe(api)
    check = check_running(home, [home / "state_5.sqlite"], try_write_lock=False, probe=probe)
    assert check.held_writer_locks == ("busy",)
    assert check.locked_databases and "a process whose pid Windows does not tell" in check.locked_databases[0]
    assert probe.database_user(home / "state_5.sqlite") == SOME_PROCESS
    # what it took it gave back at once; what it could not take it did not "unlock"
    assert ("unlock", "idle.lock", 0, 1) in api.calls and ("unlock", "busy.lock", 0, 1) not in api.calls
    assert (locks / "busy.lock").read_bytes() == b"codex wrote this" and (locks / "idle.lock").exists()
    api.held.clear()
    assert check_running(home, [home / "state_5.sqlite"], try_write_lock=False, probe=probe).running is False
    assert probe.database_user(tmp_path / "nothing.sqlite") is None


def test_sharing_violations_are_retried_then_named(tmp_path: Path) -> None:
    attempts = []

    def busy_twice() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise PermissionError(13, "in use")
        return "done"

    def busy(exc: OSError) -> bool:
        return isinstance(exc, PermissionError)

    naps: list[float] = []
    assert with_retry(busy_twice, "f", "replace", busy=busy, sleep=naps.append) == "done" and len(naps) == 2

    def always() -> None:
        raise PermissionError(13, "in use")

    with pytest.raises(FileBusy, match=r"cannot replace C:\\x\\rollout.jsonl: another program"):
        with_retry(always, r"C:\x\rollout.jsonl", "replace", seconds=0, busy=busy, sleep=naps.append)

    def other() -> None:
        raise FileNotFoundError(2, "gone")

    with pytest.raises(FileNotFoundError):
        with_retry(other, "f", "replace", busy=busy, sleep=naps.append)


ROW = "\\\\?\\C:\\Users\\Me\\.codex\\sessions\\2026\\01\\02\\rollout-2026-01-02T10-00-00-x.jsonl"


def test_windows_rows_are_read_as_windows_paths() -> None:
    assert home_of_rollout(ROW) == "\\\\?\\C:\\Users\\Me\\.codex"
    assert home_of_rollout("C:\\Users\\Me\\.codex\\archived_sessions\\r.jsonl") == "C:\\Users\\Me\\.codex"
    assert is_inside(ROW, ["c:\\users\\me\\.codex"], "windows")  # \\?\, drive and folder case
    assert is_inside(ROW, ["C:/Users/Me/.codex/"], "windows")
    assert not is_inside(ROW, ["C:\\Users\\Me\\.codex-old"], "windows")
    assert not is_inside("C:\\Users\\Me\\.codex\\..\\other\\r.jsonl", ["C:\\Users\\Me\\.codex"], "windows")
    assert same_path(ROW, "c:\\users\\me\\.codex\\sessions\\2026\\01\\02\\rollout-2026-01-02T10-00-00-x.jsonl",
                     "windows")


def test_windows_rows_are_written_back_in_codexs_own_spelling() -> None:
    moved = "C:\\Users\\me\\.codex\\archived_sessions\\rollout-2026-01-02T10-00-00-x.jsonl"
    assert spelled_like(moved, ROW, "windows") == (
        "\\\\?\\C:\\Users\\Me\\.codex\\archived_sessions\\rollout-2026-01-02T10-00-00-x.jsonl")
    plain = "C:\\Users\\Me\\.codex\\sessions\\2026\\01\\02\\r.jsonl"
    assert spelled_like("c:/users/me/.codex/archived_sessions/r.jsonl", plain, "windows") == (
        "C:\\Users\\Me\\.codex\\archived_sessions\\r.jsonl")
    assert spelled_like("D:\\elsewhere\\r.jsonl", plain, "windows") == "D:\\elsewhere\\r.jsonl"
    posix = "/home/me/.codex/sessions/2026/01/02/r.jsonl"
    assert spelled_like("/home/me/.codex/archived_sessions/r.jsonl", posix) == (
        "/home/me/.codex/archived_sessions/r.jsonl")


@pytest.mark.parametrize(("name", "cmdline", "codex"), [
    ("codex", ["/opt/codex/bin/codex", "app-server"], True),
    ("node", ["node", "/usr/lib/node_modules/@openai/codex/bin/codex.js", "exec"], True),
    ("node", ["node", "/p/node_modules/.bin/codex", "app-server"], True),
    ("Codex", ["/Applications/Codex.app/Contents/MacOS/Codex"], True),
    ("codex.exe", ["C:\\Program Files\\Codex\\codex.exe"], True),
    ("python3", ["python3", "/venv/bin/codex-sessions", "run", "unarchive"], False),
    ("python3", ["python3", "-m", "pytest", "tests/test_codex_scenarios.py"], False),
    ("bash", ["bash", "-c", "echo codex"], False),
])
def test_what_counts_as_a_codex_process(name: str, cmdline: list[str], codex: bool) -> None:
    assert _is_codex(name, cmdline) is codex


BLOCKER = """
import importlib.abc, sys
BLOCKED = {"fcntl", "termios", "pwd", "grp", "resource"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: POSIX-only)")
        return None
for m in BLOCKED:
    sys.modules.pop(m, None)
sys.meta_path.insert(0, Block())
sys.argv = ["codex-sessions", *sys.argv[1:]]
from operations.cli.app import main
main()
"""


@pytest.mark.parametrize("args", [["--help"], ["audit", "--json"], ["run", "unarchive", "--json"]])
def test_the_cli_runs_without_any_posix_only_module(tmp_path: Path, args: list[str]) -> None:
    home = tmp_path / "home"
    build_home(home, HomeSpec(sessions=6, archived_share=0.5, seed=2))
    env = {**os.environ, "CODEX_HOME": str(home), "PYTHONPATH": str(REPO), "USER": "someone"}
    result = subprocess.run([sys.executable, "-c", BLOCKER, *args], capture_output=True, text=True, env=env,
                            cwd=REPO, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    if args != ["--help"]:
        assert '"status":"ok"' in result.stdout.replace(" ", "")
