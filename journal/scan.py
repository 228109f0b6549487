"""One forward pass over a journal: hash chain, sequence, torn tail, corrupt lines, pending ops.

Memory stays bounded by the number of operations in flight (intents without outcomes),
not by the size of the journal.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from journal import READABLE_VERSIONS
from journal.codec import decode_line, line_hash
from journal.records import results_of
from journal.validate import record_problem


@dataclass(frozen=True)
class RawLine:
    number: int  # 1-based
    offset: int
    data: bytes  # without the newline
    complete: bool  # ended with a newline


@dataclass(frozen=True)
class Problem:
    line: int
    offset: int
    kind: str  # corrupt_line, broken_chain, bad_seq, bad_version, bad_record
    message: str


@dataclass(frozen=True)
class TornTail:
    offset: int
    data: bytes


@dataclass(frozen=True)
class Pending:
    op_id: str
    run_id: str
    seq: int
    offset: int


@dataclass
class ScanResult:
    exists: bool
    lines: int = 0
    last_seq: int = -1
    last_hash: str | None = None
    journal_id: str | None = None
    torn: TornTail | None = None
    problems: list[Problem] = field(default_factory=list)
    pending: dict[str, Pending] = field(default_factory=dict)
    open_runs: dict[str, int] = field(default_factory=dict)  # run id -> seq of run_begin

    @property
    def healthy(self) -> bool:
        return not self.problems


def iter_raw_lines(path: str, start: int = 0) -> Iterator[RawLine]:
    with open(path, "rb") as handle:
        handle.seek(start)
        offset = start
        for number, raw in enumerate(handle, start=1):
            complete = raw.endswith(b"\n")
            yield RawLine(number, offset, raw[:-1] if complete else raw, complete)
            offset += len(raw)


def scan(path: str) -> ScanResult:
    if not os.path.exists(path):
        return ScanResult(exists=False)
    result = ScanResult(exists=True)
    expected_prev: str | None = None
    held: tuple[RawLine, Exception] | None = None  # an unparsable line, torn if it is the last
    for raw in iter_raw_lines(path):
        if held is not None:
            result.problems.append(Problem(held[0].number, held[0].offset, "corrupt_line", str(held[1])))
            held = None
            expected_prev = None
        try:
            if not raw.complete:
                raise ValueError("line has no newline")
            record = decode_line(raw.data)
        except Exception as exc:  # noqa: BLE001 - any decode failure is reported, never raised
            held = (raw, exc)
            continue
        _check_record(result, raw, record, expected_prev)
        expected_prev = line_hash(raw.data)
        result.lines = raw.number
        result.last_hash = expected_prev
    if held is not None:
        if held[0].complete:  # a whole line that is not a record is corruption, never a torn write
            result.problems.append(Problem(held[0].number, held[0].offset, "corrupt_line", str(held[1])))
        else:  # only an unterminated last line is what a crash mid-write leaves
            result.torn = TornTail(held[0].offset, held[0].data)
    for pending in list(result.pending.values()):  # what recovery will act on: every effect decoded
        problem = record_problem(read_record_at(path, pending.offset))
        if problem:
            result.problems.append(Problem(pending.seq + 1, pending.offset, "bad_record", problem))
            del result.pending[pending.op_id]
    return result


def _check_record(result: ScanResult, raw: RawLine, record: dict[str, Any], expected_prev: str | None) -> None:
    seq = record.get("seq")
    if record.get("v") not in READABLE_VERSIONS:
        result.problems.append(Problem(raw.number, raw.offset, "bad_version", f"format version {record.get('v')!r}"))
    if raw.number == 1:
        if record.get("kind") != "genesis" or seq != 0:
            result.problems.append(Problem(1, 0, "bad_seq", "the first line is not a genesis record"))
        result.journal_id = record.get("journal_id")
    elif record.get("prev") != expected_prev:
        result.problems.append(
            Problem(raw.number, raw.offset, "broken_chain", "prev does not match the sha256 of the line before")
        )
    if not isinstance(seq, int) or seq != result.last_seq + 1:
        result.problems.append(Problem(raw.number, raw.offset, "bad_seq", f"seq {seq!r} after {result.last_seq}"))
    if isinstance(seq, int):
        result.last_seq = seq
    problem = record_problem(record, effects=False)  # effects are decoded where they are used
    if problem:
        result.problems.append(Problem(raw.number, raw.offset, "bad_record", problem))
        return
    kind = record.get("kind")
    if kind == "intent":
        result.pending[record["op"]] = Pending(record["op"], record["run"], seq or 0, raw.offset)
    elif kind in ("outcome", "outcomes"):
        for done in results_of(record):
            result.pending.pop(done.get("op", ""), None)
    elif kind == "run_begin":
        result.open_runs[record["run"]] = seq or 0
    elif kind == "run_end":
        result.open_runs.pop(record.get("run", ""), None)


def read_record_at(path: str, offset: int) -> dict[str, Any]:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return decode_line(handle.readline().rstrip(b"\n"))


def seq_of_line_hash(path: str, wanted: str) -> int | None:
    """The seq of the line whose sha256 is `wanted` (a head printed after a trusted run), or None."""
    for raw in iter_raw_lines(path):
        if raw.complete and line_hash(raw.data) == wanted:
            try:
                return int(decode_line(raw.data)["seq"])
            except (ValueError, KeyError, TypeError):
                return None
    return None
