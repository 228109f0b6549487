"""Benchmark: `audit --json` on generated homes, beside the floor (every rollout's first line).

Everything runs as a person runs it, in fresh processes: `python -m operations audit --json
--codex-home HOME` and the floor script (benchmarks/measure.py), the best of --runs after one
run of each that warms the page cache; the floor, the 10-session audit and the audit run in
turn, so that all three see the same machine (it is shared: load comes and goes in bursts). Per
home size it prints the time, the ratio to the floor (aim: within 3x), both whole (what a person
waits, interpreter and imports included) and net of the fixed cost (the same command on a home
of 10 sessions), the peak RSS of the largest process (the command, or one of its workers when
CODEX_SESSIONS_PARALLEL_FROM asks for them), the largest sum over the process tree, and memory
per session (aim: flat as the home grows). Homes are cached in benchmarks/out/
(benchmarks/homes.py).
Run: python benchmarks/audit.py [--sessions 10000 50000] [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.homes import audit_spec, cached_home  # noqa: E402
from benchmarks.measure import command, floor, interleaved_best_of, run, spread  # noqa: E402

BASELINE_SESSIONS = 10


def audit(home: Path) -> list[str]:
    return command("audit", "--json", "--codex-home", str(home))


def bench(sessions: int, runs: int) -> None:
    home = cached_home("audit", audit_spec(sessions))
    small = cached_home("audit", audit_spec(BASELINE_SESSIONS))
    for argv in (floor(home), audit(small), audit(home)):
        run(argv)  # warm the page cache (and the bytecode) once for each
    (base, base_runs), (fixed, _), (got, got_runs) = interleaved_best_of(
        runs, [floor(home), audit(small), audit(home)])
    net = got.seconds - fixed.seconds
    added_kb = got.peak_kb - fixed.peak_kb
    print(f"audit --json, {sessions:,} sessions (best of {runs}, floor and audits run in turn):\n"
          f"  floor   {base.seconds:6.2f} s   ({spread(base_runs)})\n"
          f"  audit   {got.seconds:6.2f} s   ({spread(got_runs)}); net of the fixed cost "
          f"{fixed.seconds:.2f} s ({BASELINE_SESSIONS} sessions): {net:.2f} s\n"
          f"  ratio   {got.seconds / base.seconds:6.2f}x whole, {net / base.seconds:.2f}x net (aim: within 3x)\n"
          f"  peak    {got.peak_kb / 1024:6.1f} MB largest process ({added_kb / sessions:.2f} KB/session above "
          f"the {fixed.peak_kb / 1024:.1f} MB of a {BASELINE_SESSIONS}-session audit); "
          f"process tree {got.tree_kb / 1024:.1f} MB\n"
          f"  output  {got.out_bytes / 1e6:6.1f} MB of JSON", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, nargs="*", default=[10_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for n in args.sessions:
        bench(n, args.runs)


if __name__ == "__main__":
    main()
