"""What `show` reports: an operation's or a run's effects, each with where its target is now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from journal.effects import Effect
from journal.index import JournalIndex, OpInfo


@dataclass(frozen=True)
class EffectNow:
    effect: Effect
    now: str  # the probe's state: before, after, after_drift, mid, other
    detail: str

    def to_json(self, op_state: str) -> dict[str, Any]:
        view = self.effect.to_json()
        view["now"] = self.now
        if self.detail:
            view["now_detail"] = self.detail
        view["op_state"] = op_state
        return view


@dataclass(frozen=True)
class OpNow:
    op_id: str
    info: OpInfo
    state: str
    effects: tuple[EffectNow, ...]


@dataclass(frozen=True)
class Inspection:
    kind: str  # "op" or "run"
    full_id: str
    ops: tuple[OpNow, ...]


def inspect(index: JournalIndex, ref: str) -> Inspection:
    """Resolve `ref` and probe every effect of its operations (read-only)."""
    kind, full = index.resolve(ref)
    op_ids = [full] if kind == "op" else index.runs[full].op_ids
    ops = []
    for op_id in op_ids:
        effects = []
        for effect in index.effects(op_id):
            seen = effect.probe()
            effects.append(EffectNow(effect, seen.state, seen.detail))
        ops.append(OpNow(op_id, index.ops[op_id], index.state(op_id), tuple(effects)))
    return Inspection(kind, full, tuple(ops))
