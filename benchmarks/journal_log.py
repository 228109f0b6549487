"""Benchmark: append N operations to a journal, then run `log --json` over it.

Prints wall time and peak memory of each step, and the ratio of `log --json` to the floor
(reading every line of the file once). Run: python benchmarks/journal_log.py [--ops N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from journal import records  # noqa: E402
from journal.clock import Services  # noqa: E402
from journal.effects import RowUpdate, effect_to_json  # noqa: E402
from journal.store import JournalWriter  # noqa: E402

LOG_SCRIPT = """
import sys, time
from operations.cli.app import app
start = time.perf_counter()
try:
    app(["log", "--json", "--journal", sys.argv[1]])
except SystemExit:
    pass
elapsed = time.perf_counter() - start
# VmHWM is this program's own peak; ru_maxrss after fork would include the parent's
peak_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(f"{elapsed:.3f} {peak_kb}", file=sys.stderr)
"""


def append_ops(path: str, ops: int, batch: int = 256) -> float:
    start = time.perf_counter()
    with JournalWriter(path, Services()) as writer:
        ids = writer.services.ids
        run = ids.new_id()
        writer.append({"kind": "run_begin", "run": run, "command": "bench", "argv": [], "links": {}, "meta": {}})
        for first in range(0, ops, batch):
            op_ids = [ids.new_id() for _ in range(min(batch, ops - first))]
            for n, op_id in enumerate(op_ids, start=first):
                effect = RowUpdate("/home/u/.codex/state_5.sqlite", "threads", {"id": f"thread-{n:08d}"},
                                   {"model_provider": "openai"}, {"model_provider": "azure"})
                writer.append({"kind": "intent", "run": run, "op": op_id, "label": f"migrate thread-{n:08d}",
                               "subject": f"thread-{n:08d}", "effects": [effect_to_json(effect)]})
            writer.sync()
            writer.append(records.outcomes(run, [(op_id, "applied", "") for op_id in op_ids]))
            writer.sync()
        writer.append({"kind": "run_end", "run": run, "command": "bench", "status": "ok",
                       "counts": {"applied": ops, "skipped": 0, "failed": 0}})
        writer.sync()
    return time.perf_counter() - start


def floor_read(path: str) -> float:
    start = time.perf_counter()
    with open(path, "rb") as handle:
        for _line in handle:
            pass
    return time.perf_counter() - start


def run_log(path: str) -> tuple[float, float, int]:
    root = str(Path(__file__).resolve().parent.parent)
    out_path = path + ".log.json"
    with open(out_path, "wb") as out:
        proc = subprocess.run([sys.executable, "-c", LOG_SCRIPT, path], stdout=out, stderr=subprocess.PIPE,
                              text=True, check=True, env={**os.environ, "PYTHONPATH": root}, cwd=root)
    elapsed, peak_kb = proc.stderr.strip().splitlines()[-1].split()
    with open(out_path, "rb") as listed:
        ops = sum(1 for line in listed if b'"type":"op"' in line)
    os.unlink(out_path)
    return float(elapsed), int(peak_kb) / 1024, ops


def bench(ops: int, folder: str) -> None:
    path = os.path.join(folder, f"journal-{ops}.jsonl")
    append_s = append_ops(path, ops)
    lines = sum(1 for _ in open(path, "rb"))  # noqa: SIM115 - a count, closed by GC in a script
    size_mb = os.path.getsize(path) / 1e6
    floor_s = floor_read(path)
    log_s, peak_mb, listed = run_log(path)
    assert listed == ops, (listed, ops)
    print(f"ops={ops:>8} lines={lines:>8} size={size_mb:7.1f} MB  append={append_s:6.2f} s "
          f"({ops / append_s:,.0f} ops/s)  log --json={log_s:6.2f} s  peak={peak_mb:6.1f} MB  "
          f"floor(read lines)={floor_s:5.2f} s  log/floor={log_s / floor_s:5.1f}x")


def main() -> None:
    if not sys.platform.startswith("linux"):
        sys.exit(f"{__file__}: measures peak memory through /proc (VmHWM) and flushes with os.sync: Linux only")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, nargs="*", default=[100_000, 500_000, 1_000_000],
                        help="operation counts (an intent line each, and one outcomes line per 256: "
                             "1,000,000 ops make a journal of about a million lines)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for ops in args.ops:
            bench(ops, folder)
    import resource

    print(f"python peak of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MB")


if __name__ == "__main__":
    main()
