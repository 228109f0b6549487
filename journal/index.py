"""Fold a journal into the state of every operation and run.

Nothing about state is stored: an operation is in effect when it was applied and no
compensating operation of it is itself in effect. Intents are not kept in memory; only
their offsets, so they can be re-read on demand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from journal.codec import decode_line
from journal.effects import Effect, effect_from_json
from journal.prefix import resolve_prefix
from journal.records import op_state, results_of, titled
from journal.scan import iter_raw_lines, read_record_at
from journal.validate import decode_effect, record_problem

APPLIED = "applied"


@dataclass
class OpInfo:
    op_id: str
    run_id: str
    seq: int
    offset: int
    label: str
    subject: str | None
    compensates: str | None
    redoes: str | None
    replays: str | None
    targets: frozenset[str]
    outcome: str | None = None
    reason: str = ""
    recovered: bool = False
    compensated_by: list[str] = field(default_factory=list)
    action: str | None = None  # undo, redo or replay (not recorded before labels stopped piling up)
    origin: str | None = None  # with an action: the operation the chain began with

    @property
    def title(self) -> str:
        return titled(self.label, self.action)


@dataclass
class RunInfo:
    run_id: str
    seq: int
    ts: str
    command: str
    argv: list[str]
    links: dict[str, Any]
    meta: dict[str, Any]
    op_ids: list[str] = field(default_factory=list)
    status: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


class JournalIndex:
    def __init__(self, path: str) -> None:
        self.path = path
        self.ops: dict[str, OpInfo] = {}
        self.runs: dict[str, RunInfo] = {}
        self.by_target: dict[str, list[str]] = {}
        self.problems: list[str] = []  # lines left out: not records, or records of no valid shape

    @classmethod
    def load(cls, path: str) -> JournalIndex:
        index = cls(path)
        for raw in iter_raw_lines(path):
            if not raw.complete:
                break
            try:
                record = decode_line(raw.data)
            except ValueError:
                index.problems.append(f"line {raw.number} is not a JSON object")
                continue
            problem = record_problem(record, effects=False)
            if problem:
                index.problems.append(f"line {raw.number}: {problem}")
                continue
            index._add(record, raw.offset, raw.number)
        return index

    def _add(self, record: dict[str, Any], offset: int, number: int = 0) -> None:
        kind = record.get("kind")
        if kind == "run_begin":
            if record["run"] in self.runs:
                self.problems.append(f"run {record['run']} begins twice; the second is left out")
                return
            self.runs[record["run"]] = RunInfo(
                record["run"], record["seq"], record["ts"], record.get("command", ""),
                record.get("argv", []), record.get("links", {}), record.get("meta", {}),
            )
        elif kind == "intent":
            if record["op"] in self.ops:
                self.problems.append(f"operation {record['op']} is recorded twice; the second is left out")
                return
            for link in ("compensates", "redoes", "replays"):
                if record.get(link) is not None and record[link] not in self.ops:
                    # a link points only ever to an earlier operation: anything else is damage
                    self.problems.append(f"operation {record['op']} {link} {record[link]}, which no earlier "
                                         "line records; the link is left out")
                    record = {**record, link: None}
            targets: set[str] = set()
            for data in record.get("effects", []):
                effect, problem = decode_effect(data)
                if effect is None:
                    self.problems.append(f"line {number}: operation {record['op']}: {problem}; it is left out")
                    return
                targets.update(effect.targets())
            op = OpInfo(
                record["op"], record["run"], record["seq"], offset, record.get("label", ""),
                record.get("subject"), record.get("compensates"), record.get("redoes"),
                record.get("replays"), frozenset(targets), action=record.get("action"), origin=record.get("origin"),
            )
            self.ops[op.op_id] = op
            for target in targets:
                self.by_target.setdefault(target, []).append(op.op_id)
            if op.run_id in self.runs:
                self.runs[op.run_id].op_ids.append(op.op_id)
            if op.compensates and op.compensates in self.ops:
                self.ops[op.compensates].compensated_by.append(op.op_id)
        elif kind in ("outcome", "outcomes"):
            for done in results_of(record):
                op_info = self.ops.get(done.get("op", ""))
                if op_info is not None:
                    op_info.outcome = done.get("status")
                    op_info.reason = done.get("reason", "")
                    op_info.recovered = bool(record.get("recovered"))
        elif kind == "run_end":
            run = self.runs.get(record.get("run", ""))
            if run is not None:
                run.status = record.get("status")
                run.counts = record.get("counts", {})

    # ----------------------------------------------------------------- state

    def in_effect(self, op_id: str) -> bool:
        op = self.ops[op_id]
        if op.outcome != APPLIED:
            return False
        return not any(self.in_effect(c) for c in op.compensated_by)

    def state(self, op_id: str) -> str:
        """pending, failed, skipped, not applied, in effect, undone, or redone."""
        op = self.ops[op_id]
        return op_state(op.outcome, op.outcome == APPLIED and self.in_effect(op_id), bool(op.compensated_by))

    def effects(self, op_id: str) -> list[Effect]:
        return [effect_from_json(e) for e in self.intent(op_id).get("effects", [])]

    def intent(self, op_id: str) -> dict[str, Any]:
        return read_record_at(self.path, self.ops[op_id].offset)

    def primary(self, op_id: str) -> str:
        """The original operation a chain of undos and redos is about."""
        current = op_id
        while self.ops[current].compensates:
            current = self.ops[current].compensates or current
        return current

    def origin(self, op_id: str) -> str:
        """The operation a chain of undos, redos and replays began with: its label is theirs."""
        current, seen = op_id, set()
        while current not in seen:
            seen.add(current)
            info = self.ops[current]
            link = info.compensates or info.replays
            if link is None or link not in self.ops:
                break
            current = link
        return current

    def undoes_origin(self, op_id: str) -> bool:
        """Whether this operation, in effect, takes its chain's first operation back: an undo
        does, the undo of that undo (a redo) does not, and so on down the `compensates` links."""
        depth, current, seen = 0, op_id, set()
        while current not in seen and current in self.ops:
            seen.add(current)
            link = self.ops[current].compensates
            if link is None:
                break
            depth, current = depth + 1, link
        return depth % 2 == 1

    def in_effect_compensator(self, op_id: str) -> str | None:
        return next((c for c in self.ops[op_id].compensated_by if self.in_effect(c)), None)

    # ----------------------------------------------------------------- lookup

    def resolve(self, ref: str) -> tuple[str, str]:
        """('op'|'run', full id) for an id or a unique prefix of one (at least 4 characters, any case)."""
        full = resolve_prefix(ref, [*self.ops, *self.runs], noun="operation or run", where=self.path, min_length=4,
                              describe=lambda i: self._describe("op" if i in self.ops else "run", i),
                              hint=" (a run's operations share its first 13)")
        return ("op" if full in self.ops else "run"), full

    def _describe(self, kind: str, full: str) -> str:
        if kind == "op":
            op = self.ops[full]
            return f"op {op.title}, in run {op.run_id}"
        run = self.runs[full]
        return f"run `{run.command}` at {run.ts}"

    def later_touching(self, chosen: set[str]) -> list[str]:
        """In-effect operations made after a chosen one that touched one of its targets.

        An undo made after a chosen operation, of something also made after it, cancels out
        with what it undid, so neither counts.
        """
        later: set[str] = set()
        for chosen_id in chosen:
            base = self.ops[chosen_id]
            for target in base.targets:
                for other_id in self.by_target.get(target, ()):
                    other = self.ops[other_id]
                    if other.seq <= base.seq or other_id in chosen or other_id in later:
                        continue
                    if other.compensates and self.ops[other.compensates].seq > base.seq:
                        continue
                    if self.in_effect(other_id):
                        later.add(other_id)
        return sorted(later, key=lambda o: self.ops[o].seq)
