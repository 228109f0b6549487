"""Benchmark: `fix` dry run (`fix --json`, in a fresh process each) on generated homes: time, peak
memory, memory per session (aim: linear in the home, under 10 KB per session at 50,000), and the
lines the human dry run prints (a summary, the listing capped at 20).
Run: python benchmarks/fix.py [--sessions 10000 50000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.generator import HomeSpec, build_home  # noqa: E402

FIX = """
import sys, time
sys.path.insert(0, sys.argv[2])
from operations.cli.app import app
start = time.perf_counter()
try:
    app(["fix", *sys.argv[3:], "--codex-home", sys.argv[1]])
except SystemExit:
    pass
elapsed = time.perf_counter() - start
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(f"{elapsed:.3f} {peak}", file=sys.stderr)
"""
BASE = """
import sys
sys.path.insert(0, sys.argv[2])
from operations.cli.app import app
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(f"0 {peak}", file=sys.stderr)
"""


def measure(script: str, home: Path, *args: str) -> tuple[float, float, int]:
    proc = subprocess.run([sys.executable, "-c", script, str(home), str(ROOT), *args], capture_output=True,
                          text=True, check=True)
    seconds, kb = proc.stderr.strip().splitlines()[-1].split()
    return float(seconds), float(kb), len(proc.stdout.splitlines())


def bench(sessions: int, folder: Path) -> None:
    home = folder / f"home-{sessions}"
    build_home(home, HomeSpec(sessions=sessions, providers=("openai", "azure"), archived_share=0.1,
                              exec_share=0.1, instructions_chars=8000,
                              damage={"orphan": sessions // 100, "moved_file": sessions // 200}))
    _, base_kb, _ = measure(BASE, home)
    seconds, kb, _ = measure(FIX, home, "--json")
    _, _, lines = measure(FIX, home)
    print(f"sessions={sessions:>6}  fix dry run={seconds:6.2f} s  peak={kb / 1024:6.1f} MB  "
          f"({(kb - base_kb) / sessions:5.2f} KB/session above the {base_kb / 1024:4.1f} MB of the loaded tool)  "
          f"human output: {lines} lines")


def main() -> None:
    if not sys.platform.startswith("linux"):
        sys.exit(f"{__file__}: measures peak memory through /proc (VmHWM): Linux only")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, nargs="*", default=[10_000, 50_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sessions:
            bench(n, Path(tmp))


if __name__ == "__main__":
    main()
