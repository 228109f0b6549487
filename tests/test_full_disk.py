"""A home on a really full file system: a small tmpfs, filled to leave less room than a run needs.

Needs root and `mount -t tmpfs` (CI runs as root); elsewhere it skips and says why. The
fault-injection tests (test_disk_faults.py) cover every point everywhere; this one checks
that the real errors (ENOSPC from the kernel, SQLite's "database or disk is full") take the
same paths: a clear `io_error`, never a traceback, and once space is back, `recover` brings the
home to a state undo restores byte for byte.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from fixtures.generator import HomeSpec, build_home
from tests.codexhome import snapshot
from tests.faultpoints import restore_home
from tests.helpers import _invoke, cli_json

pytestmark = [pytest.mark.crash, pytest.mark.posix]


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs mounted for this test, or a skip naming why there is none."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs Linux and root (CI runs as root); the full-disk paths are "
                    "still covered by injected faults in test_disk_faults.py")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"`mount -t tmpfs` is not allowed here ({done.stderr.strip() or done.returncode}); the "
                    "full-disk paths are still covered by injected faults in test_disk_faults.py")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_a_run_on_a_full_file_system_fails_cleanly_and_recovers_once_space_is_back(small_fs: Path,
                                                                                   tmp_path: Path) -> None:
    home = small_fs / "home"
    build_home(home, HomeSpec(sessions=12, archived_share=0.0, exec_share=0.0, providers=("openai",), seed=9,
                              instructions_chars=40_000))
    pristine = tmp_path / "pristine"
    restore_home(home, pristine)  # kept outside the small file system
    before = snapshot(home)
    args = ["run", "migrate-provider", "--apply", "--codex-home", str(home)]
    start = _free(small_fs)
    code, out = cli_json(*args)
    assert code == 0, out
    after = snapshot(home)
    needed = start - _free(small_fs) + max(p.stat().st_size for p in (home / "sessions").rglob("*.jsonl"))

    def trial(room: int) -> int:
        """Leave `room` bytes free, run, give the space back, recover, then check the home."""
        restore_home(pristine, home)
        filler = small_fs / "filler"
        with filler.open("wb") as handle:
            handle.write(b"\0" * max(0, _free(small_fs) - room))
        result = _invoke([*args, "--json"])
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        data = orjson.loads(result.stdout)
        if result.exit_code:
            assert result.exit_code == 1 and data["errors"][0]["code"] == "io_error", data
            message = data["errors"][0]["message"]
            # SQLite says "disk I/O error" when it cannot even make a database's -shm file
            assert any(w in message for w in ("No space left", "disk is full", "disk I/O error")), message
        outcomes.append((room, result.exit_code, data["errors"][0]["message"][:70] if data["errors"] else "ok"))
        filler.unlink()  # space is back
        code, recovered = cli_json("recover", "--apply", "--codex-home", str(home))
        assert code == 0 and not recovered["data"]["foreign"], recovered
        code, done = cli_json(*args)  # the rest
        assert code == 0, done
        assert snapshot(home)["files"] == after["files"]
        code, log = cli_json("log", "--codex-home", str(home))
        runs = [e["run"] for e in log["data"]["entries"] if e["type"] == "op" and e["state"] == "in effect"]
        for run in dict.fromkeys(runs):  # newest first
            assert cli_json("undo", run, "--apply", "--codex-home", str(home))[0] == 0
        assert snapshot(home) == before, room
        return int(result.exit_code)

    outcomes: list[tuple[int, int, str]] = []
    room, step = 0, needed // 10
    while trial(room):  # coarse, until a run has room enough
        room += step
    for finer in range(room - step + 8192, room, 8192):  # then two pages at a time below it
        trial(finer)
    stages = {message[:20] for _, code, message in outcomes if code}
    assert len(stages) >= 3, outcomes  # the space ran out at different stages (journal, backup, an operation…)
    print("full disk:", outcomes)
