"""What every kind of effect provides, and the registry that reads them back from the journal.

An effect is data (its before and after values) plus the behaviour that belongs to its kind:
how it is written to and read from the journal, its inverse, the targets it touches, how its
target is probed and how it is applied (with compare-and-swap), and how it is shown. Each
kind lives in one module of this package; nothing else branches on effect types.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import orjson

from journal.durability import IOContext

State = Literal["before", "after", "after_drift", "mid", "other"]
StepHook = Callable[[str], None]


@dataclass(frozen=True)
class Probe:
    """Where one effect's target is now.

    `after_drift` means the target is where the effect put it but was changed since
    (forceable for undo); `other` with `blocking` means no undo can be built from it.
    """

    state: State
    detail: str = ""
    blocking: bool = False
    observed: dict[str, Any] = field(default_factory=dict)


class Effect:
    """Base of every effect kind; subclasses are frozen dataclasses registered by `kind`."""

    kind: ClassVar[str]

    def targets(self) -> tuple[str, ...]:
        """Names of what this effect changes (`file:PATH`, `row:DB|TABLE|KEY`); two effects
        touching one name are ordered by the journal."""
        raise NotImplementedError

    def paths(self) -> tuple[str, ...]:
        """Every file-system path the effect writes (database files included), for the guard."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line naming the change, for errors and conflicts."""
        raise NotImplementedError

    def render(self) -> list[str]:
        """The change as people read it: every value that changes, before -> after."""
        return [self.describe()]

    def summary_name(self) -> str:
        """How a plan's summary counts this effect."""
        return self.kind

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def targets_in_json(cls, data: dict[str, Any]) -> tuple[str, ...]:
        """`targets()` read from the stored form without building the effect (`log` streams
        millions of lines). This default builds it; each kind with a cheaper reading overrides it."""
        return cls.from_json(data).targets()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Effect:
        raise NotImplementedError

    def inverse(self) -> Effect:
        """The effect that takes the target from `after` back to `before`."""
        raise NotImplementedError

    def probe(self, io: IOContext | None = None) -> Probe:
        """Where the target is now: at before, at after, after and changed since, or elsewhere."""
        raise NotImplementedError

    def rebased_inverse(self, seen: Probe) -> Effect:
        """The inverse built from what `seen` observed, so an undo records true before values."""
        return self.inverse()

    def step_key(self) -> tuple[str, str] | None:
        """Effects of one operation with the same key apply together as one atomic step
        (all row changes in one database: one transaction); None applies alone."""
        return None

    @classmethod
    def apply_step(cls, effects: Sequence[Effect], io: IOContext | None, hook: StepHook | None) -> None:
        """Apply one step with compare-and-swap; raise CasFailed having written nothing."""
        raise NotImplementedError

    def finish_interrupted(self) -> None:
        """Complete an effect a crash left at `mid` (only moves can be there)."""
        raise NotImplementedError(f"{self.kind} has no interrupted state")

    def rollback_interrupted(self) -> None:
        """Take back an effect a crash left at `mid` (only moves can be there)."""
        raise NotImplementedError(f"{self.kind} has no interrupted state")

    def leftovers(self) -> tuple[str, ...]:
        """Temporary files an interrupted apply of this effect may have left."""
        return ()


class OneFileEffect(Effect):
    """An effect on one file, named by its `path`: what it targets and writes is that file."""

    path: str

    def targets(self) -> tuple[str, ...]:
        return (f"file:{self.path}",)

    @classmethod
    def targets_in_json(cls, data: dict[str, Any]) -> tuple[str, ...]:
        return (f"file:{data['path']}",)

    def paths(self) -> tuple[str, ...]:
        return (self.path,)


REGISTRY: dict[str, type[Effect]] = {}


def register(cls: type[Effect]) -> type[Effect]:
    REGISTRY[cls.kind] = cls
    return cls


def effect_from_json(data: dict[str, Any]) -> Effect:
    kind = data.get("kind")
    cls = REGISTRY.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown effect kind {kind!r}")
    return cls.from_json(data)


def row_target(db: str, table: str, key: dict[str, Any]) -> str:
    return f"row:{db}|{table}|{orjson.dumps(key, option=orjson.OPT_SORT_KEYS).decode()}"


def json_text(value: Any, width: int = 80) -> str:
    return short(orjson.dumps(value).decode(), width)


def short(value: Any, width: int = 160) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= width else text[:width] + f"… ({len(text)} chars)"
