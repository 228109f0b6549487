"""One operation's plan: the journal operations it would run, and what it leaves alone and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from journal.runner import PlannedOp


@dataclass(frozen=True)
class Why:
    """Why a thread (or a file) is left alone: `kind` a stable code, `reason` the words."""

    kind: str
    reason: str


@dataclass(frozen=True)
class LeftAlone:
    thread: str
    kind: str
    reason: str


@dataclass
class Plan:
    """One operation's plan: per-thread journal operations, and the threads left alone with why."""

    operation: str
    ops: list[PlannedOp] = field(default_factory=list)
    left_alone: list[LeftAlone] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    considered: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def leave(self, thread: str, why: Why) -> None:
        self.left_alone.append(LeftAlone(thread, why.kind, why.reason))
