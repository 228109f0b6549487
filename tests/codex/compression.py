"""Run Codex's own rollout compression worker (feature `local_thread_store_compression`, 0.169+).

`codex app-server --enable local_thread_store_compression` starts the worker at once: it
compresses every plain rollout under sessions/ and archived_sessions/ whose mtime is 7 days
old or more into `<name>.jsonl.zst` (zstd level 3, mtime and mode kept), skips compressed
files, and logs one line with its counts. It then leaves `.tmp/rollout-compression.lock`,
which keeps it from running again for 6 hours (by the file's mtime).
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
import time
from pathlib import Path

from tests.codex.harness import TIMEOUT_S, CodexFailed, CodexSession, stop

FEATURE = "local_thread_store_compression"
FINISHED = re.compile(r"rollout compression worker finished: scanned=(\d+), compressed=(\d+), skipped=(\d+), "
                      r"failed=(\d+)")
MARKER = Path(".tmp") / "rollout-compression.lock"
DAY_S = 24 * 60 * 60


def age(paths: list[Path], days: float) -> None:
    """Make files look untouched for `days` (mtime), counted from the real clock."""
    then = time.time() - days * DAY_S
    for path in paths:
        os.utime(path, (then, then))


def run_compression_worker(session: CodexSession) -> dict[str, int]:
    """Start the app-server with the feature on, wait for the worker's log line, stop it, and
    return its counts. A marker left by an earlier pass is aged past its 6 hours first, as if
    that much time had gone by."""
    marker = session.home / MARKER
    if marker.exists():
        then = time.time() - 7 * 60 * 60
        os.utime(marker, (then, then))
    env = {**session.env(), "RUST_LOG": "info"}
    proc = subprocess.Popen([str(session.binary), "app-server", "--enable", FEATURE], cwd=session.home, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    session.processes.append(proc)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    assert proc.stdin is not None
    proc.stdin.write('{"id":1,"method":"initialize","params":{"clientInfo":{"name":"tests","version":"0"}}}\n')
    proc.stdin.flush()
    deadline = time.monotonic() + TIMEOUT_S
    seen: list[str] = []
    try:
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            seen.append(line)
            found = FINISHED.search(line)
            if found:
                scanned, compressed, skipped, failed = (int(g) for g in found.groups())
                return {"scanned": scanned, "compressed": compressed, "skipped": skipped, "failed": failed}
    finally:
        stop(proc)
        reader.join(timeout=10)  # the process is gone: its stderr ends
        for stream in (proc.stdin, proc.stderr):
            if stream is not None:
                stream.close()
    raise CodexFailed("the compression worker never reported: " + "".join(seen[-20:]))
