"""Time and peak memory of one command, run as a person runs it: `python -m operations ...` in a child.

The benchmarks drive the tool only through its command line, so they keep working whatever
happens inside `operations/`. Each measurement runs in a fresh watcher process (WATCH below)
that starts the command, waits for it and reports one JSON line:

- seconds: wall time from starting the command to its exit (interpreter start and imports included);
- peak_kb: the peak RSS of the largest process (the command, or one of the workers the audit forks
  for large homes): `resource.getrusage(RUSAGE_CHILDREN).ru_maxrss` on POSIX, exact; where there is
  no `resource` (Windows), psutil's sampled RSS;
- tree_kb: the largest sum of RSS over the command and all its workers at once, sampled every 20 ms
  with psutil (what the machine must hold; 0 if psutil is missing);
- out_bytes: how much it printed on stdout (written to a file, not held in memory; out_head keeps
  the first 200 bytes).

A fresh watcher per measurement matters: RUSAGE_CHILDREN keeps the maximum over every child a
process ever waited for. The floor (FLOOR) is the audit's lower bound: walk sessions/ and
archived_sessions/ and read every rollout's first line, in one process, with no project import.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WATCH = r"""
import json, os, subprocess, sys, threading, time
try:
    import resource
except ImportError:  # Windows
    resource = None
try:
    import psutil
except ImportError:
    psutil = None

argv, out_path, sampled = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3] == "sample"
tree_peak = [0, 0]  # largest sum over the tree, largest single process (bytes)
done = threading.Event()

def sample(pid):
    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return
    while not done.is_set():
        total = largest = 0
        try:
            for proc in [root, *root.children(recursive=True)]:
                rss = proc.memory_info().rss
                total += rss
                largest = max(largest, rss)
        except psutil.Error:
            pass
        tree_peak[0] = max(tree_peak[0], total)
        tree_peak[1] = max(tree_peak[1], largest)
        done.wait(0.02)

with open(out_path, "wb") as out:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE)
    sampler = threading.Thread(target=sample, args=(proc.pid,), daemon=True) if psutil and sampled else None
    if sampler:
        sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    if sampler:
        sampler.join()
if resource is not None:
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak_kb = peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KB elsewhere
else:
    peak_kb = tree_peak[1] // 1024  # Windows: sampled (best_of samples one extra run for it)
print(json.dumps({"seconds": seconds, "peak_kb": peak_kb, "tree_kb": tree_peak[0] // 1024,
                  "code": proc.returncode, "stderr": err.decode(errors="replace")[-2000:]}))
"""

FLOOR = r"""
import os, sys
home = sys.argv[1]
n = 0
for top in ("sessions", "archived_sessions"):
    for folder, _, names in os.walk(os.path.join(home, top)):
        for name in names:
            if name.startswith("rollout-") and name.endswith(".jsonl"):
                with open(os.path.join(folder, name), "rb") as handle:
                    handle.readline()
                n += 1
print(n)
"""


@dataclass(frozen=True)
class Figures:
    seconds: float
    peak_kb: int  # peak RSS of the largest process
    tree_kb: int  # largest sampled sum of RSS over the process and its workers (0: not measured)
    out_bytes: int
    out_head: bytes = b""  # the first 200 bytes it printed


def command(*args: str) -> list[str]:
    """The tool's command line, as `python -m operations ARGS`."""
    return [sys.executable, "-m", "operations", *args]


def floor(home: Path) -> list[str]:
    return [sys.executable, "-c", FLOOR, str(home)]


def child_env() -> dict[str, str]:
    """The command's environment: the project importable, and its compiled bytecode kept (in
    benchmarks/out/, not beside the sources) as an installed package keeps it. Without the
    cache (PYTHONDONTWRITEBYTECODE, set on this project's machines) every run compiles the
    project again, a quarter of a second that no user pays."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": str(ROOT / "benchmarks" / "out" / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run(argv: list[str], ok_codes: tuple[int, ...] = (0,), *, sample_tree: bool = True) -> Figures:
    """Run `argv` once under a fresh watcher; exit if it fails. `sample_tree`: also sample the
    RSS of the whole process tree every 20 ms (psutil walks /proc for each sample, which takes
    a share of a core: timed runs are not sampled, see `best_of`)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "stdout"
        proc = subprocess.run([sys.executable, "-c", WATCH, json.dumps(argv), str(out),
                               "sample" if sample_tree else "time"], cwd=ROOT,
                              env=child_env(), capture_output=True, text=True, check=False)
        try:
            record = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            raise SystemExit(f"watcher failed (exit {proc.returncode}): {proc.stderr[-2000:]}") from None
        if record["code"] not in ok_codes:
            raise SystemExit(f"{' '.join(argv[2:])} exited {record['code']}: {record['stderr']}")
        with out.open("rb") as printed:
            head = printed.read(200)
        return Figures(record["seconds"], record["peak_kb"], record["tree_kb"], out.stat().st_size, head)


def best_of(runs: int, argv: list[str], ok_codes: tuple[int, ...] = (0,)) -> tuple[Figures, list[float]]:
    """The fastest of `runs` fresh processes (the machine is shared: the fastest is the least
    disturbed) with every run's seconds; memory is the largest peak seen in any run. The timed
    runs are not sampled (the sampler would compete for the cores it times); one more run is,
    for the process tree's memory."""
    return interleaved_best_of(runs, [argv], ok_codes)[0]


def interleaved_best_of(runs: int, argvs: list[list[str]],
                        ok_codes: tuple[int, ...] = (0,)) -> list[tuple[Figures, list[float]]]:
    """`best_of` for several commands whose times are compared, run in turn (A, B, C, A, B, C, ...)
    so that each sees the machine as the others did: on a shared machine, a burst of load
    between one command's runs and the next command's would otherwise skew their ratio."""
    taken: list[list[Figures]] = [[] for _ in argvs]
    for _ in range(runs):
        for index, argv in enumerate(argvs):
            taken[index].append(run(argv, ok_codes, sample_tree=False))
    out = []
    for index, argv in enumerate(argvs):
        sampled = run(argv, ok_codes, sample_tree=True)
        fastest = min(taken[index], key=lambda f: f.seconds)
        out.append((Figures(fastest.seconds, max(f.peak_kb for f in (*taken[index], sampled)), sampled.tree_kb,
                            fastest.out_bytes), [f.seconds for f in taken[index]]))
    return out


def spread(seconds: list[float]) -> str:
    return f"runs {', '.join(f'{s:.2f}' for s in seconds)}; median {statistics.median(seconds):.2f}"
