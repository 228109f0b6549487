"""An operation as one value: its name and words, its options (declared as data), its planner,
what Codex will list once it is applied, and whether and when `fix` runs it. Every operation's
module defines one; operations/registry.py lists them, and the CLI and `fix` are built from there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from operations.audit_model import AuditReport, ThreadAudit
from operations.repair.plan import Plan
from operations.repair.selection import RepairContext, ThreadFilter
from operations.visibility import Facts

Args = Mapping[str, Any]


@dataclass(frozen=True)
class OptionSpec:
    """One command-line option as data. `name` is the value's key (and the parameter's name);
    `flags[0]` is how advice spells it; `deprecated` flags are accepted, hidden, for one release."""

    name: str
    flags: tuple[str, ...]
    kind: type = str  # str, int, or bool (a flag that takes no value)
    metavar: str = ""
    help: str = ""
    repeatable: bool = False
    choices: tuple[str, ...] = ()
    default: Any = None
    check: Callable[[Any], Any] | None = None  # raises UsageProblem; returns the value to use
    deprecated: tuple[str, ...] = ()
    required: bool = False

    @property
    def empty(self) -> Any:
        """The value when the option is not given."""
        if self.kind is bool:
            return bool(self.default)
        return () if self.repeatable and self.default is None else self.default


@dataclass(frozen=True)
class FixState:
    """What `fix` knows when it decides whether a phase is needed: the audit, the threads the
    filters choose, fix's option values, and the phases already chosen."""

    report: AuditReport
    chosen: list[ThreadAudit]
    args: Args
    phases: tuple[str, ...]
    problems: Counter[str]  # over the chosen threads, counted once


Planner = Callable[[RepairContext, ThreadFilter, Args], Plan]


@dataclass(frozen=True)
class FixPhase:
    """Whether and when `fix` runs an operation. `order`: its place in the recovery method;
    `needed`: the condition on the audit and fix's options; `options`: what fix exposes for it;
    `plan`: how fix plans it, when not as `run` does; `follows`: operations whose result this
    phase reads once they are applied (documentation: every phase is planned on what the ones
    before it left); `notes`: what the dry run says about its plan."""

    order: int
    needed: Callable[[FixState], bool]
    options: tuple[OptionSpec, ...] = ()
    plan: Planner | None = None
    follows: tuple[str, ...] = ()
    notes: Callable[[Plan, RepairContext], list[str]] | None = None


def _no_change(args: Args) -> Args:
    return args


@dataclass(frozen=True)
class Operation:
    """A repair: `run NAME` and, when `fix` is set, a phase of `fix`.

    `plan(ctx, filters, args)` plans it against an audited home; `prepare(args)` checks and
    converts option values before the home is read; `predict(facts, plan)` is a thread's facts
    as Codex will see them once the plan is applied (`retires`: the thread is gone). `filters`: the
    thread filters apply; `app_state`: it may write the desktop app's state file."""

    name: str
    summary: str
    example: str
    plan: Planner
    description: str = ""
    options: tuple[OptionSpec, ...] = ()
    prepare: Callable[[Args], Args] = _no_change
    predict: Callable[[Facts, Plan], Facts] | None = None  # None: facts unchanged
    retires: bool = False  # a thread it plans for is gone afterwards
    filters: bool = True
    app_state: bool = False
    fix: FixPhase | None = None

    def args(self, given: Args) -> dict[str, Any]:
        """Every option of this operation, given or empty, then prepared."""
        values = {spec.name: spec.empty for spec in self.options}
        values.update(given)
        return dict(self.prepare(values))
