"""Where the audit's and the `fix` dry run's time and memory go, on a cached benchmark home.

Runs `audit` or `fix` in this process (output to /dev/null, so rendering is still paid) and
reports one of:
  --phases      each phase's time and the process's RSS after it (no profiler overhead)
  --cprofile N  cProfile: the N functions with the most own time, and the N project functions
                with the most cumulative time
  --tracemalloc N  at the end of each phase, the N allocation sites holding the most memory
                (per session too), the traced peak, and the deep size of one thread's audit
                and of one planned operation, by part
  --pyinstrument  pyinstrument's call tree (if it is installed: pip install pyinstrument)
Phases are found by wrapping the CLI's calls (run_audit, plan_fix, preflight, report_data,
emit) from outside; a name the CLI no longer has is skipped. The audit reads every rollout in
this process unless `--workers N` turns its worker processes on for N files or more (their
time a profiler of this process does not see). Linux only (RSS from /proc).
Run: python benchmarks/profiling.py fix --sessions 10000 --phases
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.homes import audit_spec, cached_home, interactive_spec  # noqa: E402

WRAPPED = {  # module -> the names whose calls mark the end of a phase
    "operations.cli.fix_cmd": ("run_audit", "plan_fix", "_fix_data", "preflight", "emit"),
    "operations.cli.audit_cmd": ("run_audit", "report_data", "emit"),
}


def linux_only(script: str) -> None:
    if not sys.platform.startswith("linux"):
        sys.exit(f"{script}: reads RSS from /proc/self/status: Linux only")


def rss_mb() -> tuple[float, float]:
    with open("/proc/self/status") as status:
        values = {line.split(":")[0]: int(line.split()[1]) for line in status if line.startswith(("VmRSS", "VmHWM"))}
    return values["VmRSS"] / 1024, values["VmHWM"] / 1024


class Phases:
    """Wraps the CLI's calls; after each, records the time since the last mark and calls `at_end`."""

    def __init__(self, at_end: Callable[[str, Any], None] | None = None) -> None:
        self.marks: list[tuple[str, float, float, float]] = []  # name, seconds, rss, hwm
        self.at_end = at_end
        self.last = time.perf_counter()

    def install(self) -> None:
        import importlib

        for module_name, names in WRAPPED.items():
            module = importlib.import_module(module_name)
            for name in names:
                if hasattr(module, name):
                    setattr(module, name, self._wrap(f"{module_name.rsplit('.', 1)[-1]}.{name}",
                                                     getattr(module, name)))

    def _wrap(self, label: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = func(*args, **kwargs)
            self.mark(label, result)
            return result

        return wrapper

    def mark(self, label: str, result: Any = None) -> None:
        now = time.perf_counter()
        self.marks.append((label, now - self.last, *rss_mb()))
        if self.at_end is not None:
            self.at_end(label, result)
        self.last = time.perf_counter()  # what at_end costs is charged to no phase


@contextmanager
def output_to_devnull() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def run_cli(argv: list[str]) -> None:
    from operations.cli.app import app

    with output_to_devnull():
        try:
            app(argv)
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes of `obj` and everything it holds that was not already counted (modules, classes
    and functions are not followed)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, (type, type(sys), Callable)):  # type: ignore[arg-type]
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        size += sum(deep_size(v, seen) for v in obj)
    elif is_dataclass(obj) or hasattr(obj, "__slots__") or hasattr(obj, "__dict__"):
        names = [f.name for f in fields(obj)] if is_dataclass(obj) else list(getattr(obj, "__slots__", ()))
        if hasattr(obj, "__dict__") and not is_dataclass(obj):
            size += deep_size(vars(obj), seen)
        for name in names:
            if hasattr(obj, name):
                size += deep_size(getattr(obj, name), seen)
    return size


def parts(obj: Any) -> str:
    """One object's deep size, field by field (each field counting what earlier ones did not)."""
    seen: set[int] = {id(obj)}
    total = sys.getsizeof(obj)
    out = []
    names = [f.name for f in fields(obj)] if is_dataclass(obj) else list(getattr(obj, "__slots__", ()))
    for name in names:
        size = deep_size(getattr(obj, name), seen)
        total += size
        if size >= 64:
            out.append(f"{name} {size}")
    return f"{type(obj).__name__} {total} B ({sys.getsizeof(obj)} itself; " + ", ".join(out) + ")"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def tracemalloc_report(top: int, sessions: int) -> Callable[[str, Any], None]:
    def at_end(label: str, result: Any) -> None:  # stdout is /dev/null while the command runs
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        say(f"\n== after {label}: traced {current / 2**20:.1f} MB alive, peak so far {peak / 2**20:.1f} MB "
              f"({current / sessions:.0f} B alive per session)")
        stats = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]).statistics("lineno")
        for stat in stats[:top]:
            frame = stat.traceback[0]
            where = os.path.relpath(frame.filename, ROOT) if frame.filename.startswith(str(ROOT)) else frame.filename
            say(f"  {stat.size / 2**20:7.1f} MB {stat.size / sessions:7.0f} B/session {stat.count:9,} blocks  "
                  f"{where}:{frame.lineno}")
        threads = getattr(result, "threads", None)
        if threads:
            sample = next((t for t in threads if t.row is not None and t.files), threads[0])
            say(f"  one thread's audit: {parts(sample)}")
            say(f"  whole report: {deep_size(result) / 2**20:.1f} MB ({deep_size(result) / len(threads):.0f} "
                  f"B per thread)")
        phases = getattr(result, "phases", None)
        if phases:
            for plan in phases:
                if plan.ops:
                    op = plan.ops[0]
                    say(f"  {plan.operation}: {len(plan.ops)} ops; one: {parts(op)}; effects: "
                          + ", ".join(f"{type(e).__name__} {deep_size(e)} B" for e in op.effects))
            say(f"  whole fix plan: {deep_size(result) / 2**20:.1f} MB")

    return at_end


def main() -> None:
    linux_only(__file__)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["audit", "fix"])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--text", action="store_true", help="human output instead of --json")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="read with worker processes from N files (CODEX_SESSIONS_PARALLEL_FROM)")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--phases", action="store_true")
    mode.add_argument("--cprofile", type=int, metavar="N")
    mode.add_argument("--tracemalloc", type=int, metavar="N")
    mode.add_argument("--pyinstrument", action="store_true")
    args = parser.parse_args()
    spec = audit_spec(args.sessions) if args.command == "audit" else interactive_spec(args.sessions)
    home = cached_home(args.command, spec)
    os.environ.pop("CODEX_SESSIONS_PARALLEL_FROM", None)
    if args.workers:
        os.environ["CODEX_SESSIONS_PARALLEL_FROM"] = str(args.workers)
    argv = [args.command, "--codex-home", str(home)] + ([] if args.text else ["--json"])
    import operations.cli.app  # noqa: F401  (imports are not the run's cost)

    print(f"{' '.join(argv[:1] + argv[3:])} on {home.name} ({args.sessions:,} sessions"
          f"{f', workers from {args.workers:,} files' if args.workers else ''}); RSS before: {rss_mb()[0]:.1f} MB")
    if args.phases:
        phases = Phases()
        phases.install()
        started = time.perf_counter()
        run_cli(argv)
        phases.mark("the rest")
        total = time.perf_counter() - started
        for label, seconds, rss, hwm in phases.marks:
            print(f"  {label:<24} {seconds:6.2f} s {100 * seconds / total:5.1f}%   RSS after {rss:6.1f} MB "
                  f"(peak {hwm:6.1f} MB)")
        print(f"  {'total':<24} {total:6.2f} s")
    elif args.cprofile:
        profiler = cProfile.Profile()
        profiler.enable()
        run_cli(argv)
        profiler.disable()
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("tottime").print_stats(args.cprofile)
        stats.sort_stats("cumulative").print_stats(r"(operations|journal)/", args.cprofile)
        print(text.getvalue().replace(str(ROOT) + "/", ""))
    elif args.tracemalloc:
        tracemalloc.start()
        Phases(tracemalloc_report(args.tracemalloc, args.sessions)).install()
        run_cli(argv)
        print(f"\ntraced peak: {tracemalloc.get_traced_memory()[1] / 2**20:.1f} MB; RSS peak {rss_mb()[1]:.1f} MB")
    else:
        from pyinstrument import Profiler  # an optional tool, not a dependency

        profiler = Profiler(interval=0.002)
        profiler.start()
        run_cli(argv)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
