"""`log`: runs and operations newest first, streamed from the end of the file.

Reading backwards, every operation's outcome and later undos are met before its intent,
so its state is known when it is emitted, with memory bounded by what is in flight.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from journal.effects import json_targets
from journal.platform import exit_with_parent
from journal.records import op_state, results_of
from journal.validate import record_problem

BLOCK = 1 << 20


def iter_blocks_reversed(path: str) -> Iterator[list[bytes]]:
    """Complete lines from last to first, a block's worth at a time (each list newest first); a
    torn last line (no newline) is skipped."""
    with open(path, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        position = end
        carry = b""
        first = True
        while position > 0:
            size = min(BLOCK, position)
            position -= size
            handle.seek(position)
            chunk = handle.read(size) + carry
            parts = chunk.split(b"\n")
            carry = parts[0]
            tail = parts[1:]
            if first:
                first = False
                tail = tail[:-1]  # after the last newline: empty, or a torn line
            tail.reverse()
            yield [line for line in tail if line]
        if carry and end > 0:
            yield [carry]


@dataclass
class LogHealth:
    """What the streamed lines said of the hash chain (only the part read, when a limit is given)."""

    damaged_at_seq: int | None = None  # the newest line whose successor does not chain to it
    unreadable_lines: int = 0

    @property
    def ok(self) -> bool:
        return self.damaged_at_seq is None and self.unreadable_lines == 0


def check_chain(path: str) -> LogHealth:
    """The whole file's hash chain, read forward: the same verdict `iter_log` reaches reading
    backward (the newest line whose successor does not chain to it; lines that do not parse)."""
    health = LogHealth()
    previous: bytes | None = None
    loads, sha256 = orjson.loads, hashlib.sha256
    with open(path, "rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break  # a torn last line is not part of the chain yet
            line = raw[:-1]
            if not line:
                continue
            try:
                record = loads(line)
            except orjson.JSONDecodeError:
                record = None
            if type(record) is not dict:
                health.unreadable_lines += 1
                previous = None
                continue
            if previous is not None and record.get("prev") != sha256(previous).hexdigest():
                seq = loads(previous).get("seq")
                health.damaged_at_seq = seq  # the newest such line wins, as reading backward
            previous = line
    return health


PARALLEL_CHECK_FROM = 64 << 20  # below this a second process costs more than it saves


def chain_checker(path: str, limit: int | None) -> Callable[[], LogHealth] | None:
    """For a large journal listed whole, check the chain in a second process while this one
    streams (it costs as much as the listing's own parsing); returns how to collect the verdict.
    None: check inline (small files; a limit reads only the newest part)."""
    if limit is not None or os.path.getsize(path) < PARALLEL_CHECK_FROM:
        return None
    if "fork" not in multiprocessing.get_all_start_methods():
        return None  # Windows: a spawned interpreter costs more than it saves, and re-imports the caller's program
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"),
                               initializer=exit_with_parent, initargs=(os.getpid(),))
    future = pool.submit(check_chain, path)

    def collect() -> LogHealth:
        try:
            return future.result()
        finally:
            pool.shutdown()

    return collect


def _newest_first(path: str, health: LogHealth | None) -> Iterator[dict[str, Any]]:
    """Every readable record, last line first; the hash chain is checked on the way (each line's
    hash against the `prev` of the line after it) into `health`. Lines that are not records of a
    valid shape are counted there and skipped."""
    expected_prev: str | None | bool = False  # False: no newer line seen yet
    loads, sha256, check = orjson.loads, hashlib.sha256, health is not None
    for block in iter_blocks_reversed(path):
        for line in block:
            try:
                record = loads(line)
            except orjson.JSONDecodeError:
                record = None
            if type(record) is not dict or record_problem(record, effects=False):
                if health is not None:
                    health.unreadable_lines += 1
                expected_prev = False
                continue
            if check:
                assert health is not None
                if expected_prev is not False and health.damaged_at_seq is None and \
                        expected_prev != sha256(line).hexdigest():
                    health.damaged_at_seq = record.get("seq")
                expected_prev = record.get("prev")
            yield record


def iter_log(
    path: str,
    *,
    run: str | None = None,
    op: str | None = None,
    target: str | None = None,
    limit: int | None = None,
    health: LogHealth | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield {'type': 'run'|'op', ...} newest first, filtered, `limit` operations at most; the
    hash chain is checked on the way into `health`. The hot path of `log` over millions of lines."""
    outcomes: dict[str, dict[str, Any]] = {}
    compensations: dict[str, list[bool]] = {}  # op id -> in-effect flags of its compensators
    runs_shown: set[str] = set()
    emitted = 0
    for record in _newest_first(path, health):
        kind = record.get("kind")
        if kind in ("outcome", "outcomes"):
            for done in results_of(record):
                outcomes[done["op"]] = done
        elif kind == "intent":
            op_id = record["op"]
            outcome = outcomes.pop(op_id, None)
            comps = compensations.pop(op_id, None)
            status = outcome.get("status") if outcome else None
            effective = status == "applied" and not (comps and any(comps))
            compensates = record.get("compensates")
            if compensates:
                compensations.setdefault(compensates, []).append(effective)
            if run and not record["run"].startswith(run):
                continue
            if op and not op_id.startswith(op):
                continue
            effects = record["effects"]
            try:
                targets = [t for effect in effects for t in json_targets(effect)]
            except (KeyError, TypeError, ValueError, AttributeError, IndexError):
                targets = ["(an effect that cannot be read; verifying the journal says more)"]
            if target and not any(target in t for t in targets):
                continue
            yield _op_item(record, outcome, op_state(status, effective, bool(comps)), targets, len(effects))
            emitted += 1
            if limit is not None and emitted >= limit:
                return
        elif kind == "run_end" and record.get("command"):
            if _run_wanted(record["run"], run, op, target):
                runs_shown.add(record["run"])
                yield _run_item(record, ended=True)
        elif kind == "run_begin":
            if record["run"] not in runs_shown and _run_wanted(record["run"], run, op, target) and not op:
                yield _run_item(record, ended=False)
            runs_shown.discard(record["run"])


ENDS_IN_FLIGHT = 4096  # run ends whose beginning is not met yet: one or two, unless the file is forged


def iter_runs(path: str, *, run: str | None = None, limit: int | None = None,
              health: LogHealth | None = None) -> Iterator[dict[str, Any]]:
    """Yield one {'type': 'run', ...} per run, newest first, `limit` runs at most: its command,
    argv, when it began and ended, status, counts, and `links` (what it undoes, redoes or
    replays). Operations are not listed, so a run of a million costs one line of output."""
    ends: dict[str, dict[str, Any]] = {}
    emitted = 0
    for record in _newest_first(path, health):
        kind = record.get("kind")
        if kind == "run_end" and record.get("command"):  # a run ended by `recover` has none: interrupted
            ends[record["run"]] = record
            if len(ends) > ENDS_IN_FLIGHT:
                del ends[next(iter(ends))]
        elif kind == "run_begin":
            end = ends.pop(record["run"], None)
            if run and not record["run"].startswith(run):
                continue
            yield {
                "type": "run", "run": record["run"], "ts": record.get("ts"), "command": record.get("command"),
                "argv": record.get("argv", []), "status": end.get("status") if end else "interrupted",
                "ended": end.get("ts") if end else None, "counts": end.get("counts", {}) if end else {},
                "links": record.get("links", {}),
            }
            emitted += 1
            if limit is not None and emitted >= limit:
                return


def _run_wanted(run_id: str, run: str | None, op: str | None, target: str | None) -> bool:
    if run and not run_id.startswith(run):
        return False
    return not (op or target) or bool(run)


def _run_item(record: dict[str, Any], *, ended: bool) -> dict[str, Any]:
    return {
        "type": "run",
        "run": record["run"],
        "ts": record.get("ts"),
        "command": record.get("command"),
        "status": record.get("status") if ended else "interrupted",
        "counts": record.get("counts", {}),
    }


def _op_item(record: dict[str, Any], outcome: dict[str, Any] | None, state: str, targets: list[str],
             effects: int) -> dict[str, Any]:
    get = record.get
    item = {
        "type": "op",
        "op": record["op"],
        "run": record["run"],
        "ts": get("ts"),
        "label": get("label", ""),
        "subject": get("subject"),
        "state": state,
        "effects": effects,
        "targets": targets,
        "reason": outcome.get("reason", "") if outcome else "",
    }
    for link in ("compensates", "redoes", "replays", "action", "origin"):
        value = get(link)
        if value:
            item[link] = value
    return item
