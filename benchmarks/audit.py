"""Benchmark: the audit of generated homes beside the floor (open every rollout, read its first line).

Prints, per home size, the floor, the audit (`audit --json`, in a fresh process each), their
ratio (aim: within 3x), and peak memory per session (aim: flat as the home grows).
Run: python benchmarks/audit.py [--sessions 10000 50000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.generator import HomeSpec, build_home  # noqa: E402
from operations.rollouts import iter_rollout_paths  # noqa: E402

FLOOR = """
import sys, time
sys.path.insert(0, sys.argv[2])
from operations.rollouts import iter_rollout_paths
from pathlib import Path
start = time.perf_counter()
n = 0
for path, _ in iter_rollout_paths(Path(sys.argv[1])):
    with open(path, "rb") as handle:
        handle.readline()
    n += 1
elapsed = time.perf_counter() - start
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(f"{elapsed:.3f} {peak} {n}")
"""

AUDIT = """
import sys, time
sys.path.insert(0, sys.argv[2])
from operations.cli.app import app
start = time.perf_counter()  # like the floor, timed after the interpreter and imports are up
try:
    app(["audit", "--json", "--codex-home", sys.argv[1]])
except SystemExit:
    pass
elapsed = time.perf_counter() - start
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(f"{elapsed:.3f} {peak}", file=sys.stderr)
"""


def measure(script: str, home: Path, to_devnull: bool) -> list[str]:
    out = subprocess.DEVNULL if to_devnull else subprocess.PIPE
    proc = subprocess.run([sys.executable, "-c", script, str(home), str(ROOT)], stdout=out,
                          stderr=subprocess.PIPE, text=True, check=True)
    text = proc.stderr if to_devnull else proc.stdout
    return text.strip().splitlines()[-1].split()


def bench(sessions: int, folder: Path) -> None:
    home = folder / f"home-{sessions}"
    started = time.perf_counter()
    build_home(home, HomeSpec(sessions=sessions, providers=("openai", "azure"), archived_share=0.1,
                              exec_share=0.1, instructions_chars=8000,
                              damage={"orphan": sessions // 100, "moved_file": sessions // 200}))
    built_s = time.perf_counter() - started
    files = sum(1 for _ in iter_rollout_paths(home))
    size_mb = sum(os.path.getsize(p) for p, _ in iter_rollout_paths(home)) / 1e6
    measure(FLOOR, home, False)  # warm the page cache once for both
    floor_s, floor_kb, _ = (float(x) for x in measure(FLOOR, home, False))
    audit_s, audit_kb = (float(x) for x in measure(AUDIT, home, True))
    print(f"sessions={sessions:>6} files={files:>6} ({size_mb:6.0f} MB, built in {built_s:5.1f} s)  "
          f"floor={floor_s:6.2f} s  audit={audit_s:6.2f} s  ratio={audit_s / floor_s:4.1f}x  "
          f"peak={audit_kb / 1024:6.1f} MB ({audit_kb * 1024 / sessions / 1024:5.2f} KB/session; "
          f"floor process {floor_kb / 1024:5.1f} MB)")


def main() -> None:
    if not sys.platform.startswith("linux"):
        sys.exit(f"{__file__}: measures peak memory through /proc (VmHWM) and flushes with os.sync: Linux only")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, nargs="*", default=[10_000, 50_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sessions:
            bench(n, Path(tmp))


if __name__ == "__main__":
    main()
