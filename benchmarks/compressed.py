"""Benchmark: the audit of a home whose rollouts Codex compressed (`.jsonl.zst`) beside the same home plain.

Both homes come from one spec; in the second every rollout is compressed as Codex's worker
compresses it (zstd level 3). The audit streams only the first line of a compressed rollout,
never inflating the whole file, so it should stay within 1.5x of the plain audit. Prints both
times (`audit --json` in a fresh process each, the page cache warmed once), their ratio and
peak memory; the best of --runs runs each.
Run: python benchmarks/compressed.py [--sessions 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.measure import best_of, command, run  # noqa: E402
from fixtures.generator import HomeSpec, build_home  # noqa: E402


def spec(sessions: int, compressed: bool) -> HomeSpec:
    return HomeSpec(sessions=sessions, providers=("openai", "azure"), archived_share=0.1, exec_share=0.1,
                    instructions_chars=8000, damage={"orphan": sessions // 100, "moved_file": sessions // 200},
                    compressed_share=1.0 if compressed else 0.0)


def audit_seconds(home: Path, runs: int) -> tuple[float, float]:
    """(best time in s, peak MB) of `audit --json` over `runs` fresh processes."""
    argv = command("audit", "--json", "--codex-home", str(home))
    run(argv)  # warm the page cache
    best, _ = best_of(runs, argv)
    return best.seconds, best.peak_kb / 1024


def bench(sessions: int, runs: int, folder: Path) -> None:
    homes = {}
    for compressed in (False, True):
        home = folder / f"home-{'zst' if compressed else 'plain'}-{sessions}"
        started = time.perf_counter()
        build_home(home, spec(sessions, compressed))
        size = sum(p.stat().st_size for p in home.glob("*sessions/**/rollout-*")) / 1e6
        print(f"built {home.name}: {size:.0f} MB of rollouts in {time.perf_counter() - started:.1f} s")
        homes[compressed] = home
    plain_s, plain_mb = audit_seconds(homes[False], runs)
    zst_s, zst_mb = audit_seconds(homes[True], runs)
    print(f"sessions={sessions}  plain audit={plain_s:.2f} s ({plain_mb:.0f} MB)  compressed audit={zst_s:.2f} s "
          f"({zst_mb:.0f} MB)  ratio={zst_s / plain_s:.2f}x (aim: within 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, nargs="*", default=[10_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sessions:
            bench(n, args.runs, Path(tmp))


if __name__ == "__main__":
    main()
