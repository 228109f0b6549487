"""Benchmark: the `fix` dry run on homes of interactive sessions: time and peak memory per session.

Every session is interactive (no `codex exec`), a tenth archived, 1% orphans and 0.5% moved
files, half made under another provider than the configured one, so `fix` plans repair-paths,
import-orphans and migrate-provider for about half the threads (benchmarks/homes.py). Each step
runs as a person runs it, `python -m operations fix [--json] --codex-home HOME`, in fresh
processes (benchmarks/measure.py), the best of --runs after one run that warms the page cache.
Per home size and step it prints the time, time per session net of the fixed cost (the same
command on a home of 10 sessions; aim: linear, the same at every size), the peak RSS of the
largest process and of the process tree, and memory per session, both whole (peak / sessions)
and added (above the 10-session run); aim: under 10 KB. With two sizes or more it prints the
large-to-small ratios (1.00 is linear).
Run: python benchmarks/fix_dry_run.py [--sessions 10000 50000] [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.homes import cached_home, interactive_spec  # noqa: E402
from benchmarks.measure import Figures, best_of, command, floor, run, spread  # noqa: E402

STEPS = {"fix --json": ("fix", "--json"), "fix": ("fix",)}
BASELINE_SESSIONS = 10


def step(args: tuple[str, ...], home: Path) -> list[str]:
    return command(*args, "--codex-home", str(home))


def bench(sessions: int, runs: int, fixed: dict[str, Figures]) -> dict[str, Figures]:
    home = cached_home("fix", interactive_spec(sessions))
    run(floor(home))  # warm the page cache
    base, base_runs = best_of(runs, floor(home))
    print(f"fix dry run, {sessions:,} interactive sessions (best of {runs}):\n"
          f"  {'floor':<11} {base.seconds:6.2f} s  ({spread(base_runs)})", flush=True)
    figures = {}
    for name, args in STEPS.items():
        run(step(args, home))
        got, seconds = best_of(runs, step(args, home))
        figures[name] = got
        net = got.seconds - fixed[name].seconds
        added = got.peak_kb - fixed[name].peak_kb
        print(f"  {name:<11} {got.seconds:6.2f} s  net {net:6.2f} s = {1e6 * net / sessions:4.0f} µs/session "
              f"({net / base.seconds:.1f}x floor)  peak {got.peak_kb / 1024:6.1f} MB = "
              f"{got.peak_kb / sessions:4.1f} KB/session (added {added / sessions:4.1f} KB/session), "
              f"tree {got.tree_kb / 1024:6.1f} MB  output {got.out_bytes / 1e3:7.1f} KB  ({spread(seconds)})",
              flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, nargs="*", default=[10_000, 50_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tiny = cached_home("fix", interactive_spec(BASELINE_SESSIONS))
    fixed = {name: best_of(args.runs, step(a, tiny))[0] for name, a in STEPS.items()}
    print("fixed cost (10 sessions): " + ", ".join(
        f"{name} {f.seconds:.2f} s {f.peak_kb / 1024:.1f} MB" for name, f in fixed.items()), flush=True)
    results = {n: bench(n, args.runs, fixed) for n in args.sessions}
    if len(results) > 1:
        small, large = min(results), max(results)
        for name in STEPS:
            per = [(results[n][name].seconds - fixed[name].seconds) / n for n in (small, large)]
            mem = [(results[n][name].peak_kb - fixed[name].peak_kb) / n for n in (small, large)]
            print(f"{name}: net time per session at {large:,} / at {small:,} = {per[1] / per[0]:.2f} "
                  f"(1.00 is linear); added memory per session {mem[0]:.1f} -> {mem[1]:.1f} KB")


if __name__ == "__main__":
    main()
