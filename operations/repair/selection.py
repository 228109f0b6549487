"""Which threads a repair takes (the filters, each `--thread` resolved against the audited home)
and what every planner sees: the home, its audit, the moment."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from journal.prefix import resolve_prefix
from operations.audit_model import AuditReport, ThreadAudit
from operations.home import CodexHome
from operations.path_spelling import key


@dataclass(frozen=True)
class ThreadFilter:
    """--thread (repeatable), --provider, --cwd, --since/--until (on the thread's creation time)."""

    threads: tuple[str, ...] = ()
    provider: str | None = None
    cwd: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, t: ThreadAudit) -> bool:
        if self.threads and not any(t.id == ref or t.id.startswith(ref) for ref in self.threads):
            return False
        facts = t.facts
        if self.provider is not None and (facts is None or facts.provider != self.provider) and (
                t.row is None or t.row.model_provider != self.provider):
            return False
        if self.cwd is not None and (facts is None or not key(facts.cwd).startswith(key(self.cwd))):
            return False
        created = _created(t)
        if self.since and (created is None or created < self.since):
            return False
        return not (self.until and (created is None or created >= self.until))

    def describe(self) -> dict[str, Any]:
        return {"threads": list(self.threads), "provider": self.provider, "cwd": self.cwd,
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None}


def _created(t: ThreadAudit) -> datetime | None:
    if t.row is not None and t.row.created_at is not None:
        try:
            return datetime.fromtimestamp(t.row.created_at, UTC)
        except (OverflowError, OSError, ValueError):  # a time no calendar holds: a damaged row
            return None
    for f in t.files:
        if f.meta and f.meta.timestamp:
            try:
                return datetime.fromisoformat(f.meta.timestamp.replace("Z", "+00:00"))
            except ValueError:
                return None
    return None


UNREADABLE_ROWS = {"undecodable_row", "malformed_row"}


@dataclass(frozen=True)
class RepairContext:
    home: CodexHome
    report: AuditReport
    now: datetime

    @property
    def now_ns(self) -> int:
        return int(self.now.timestamp() * 1_000_000_000)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.report.schema.columns if self.report.schema else ()

    def unreadable(self, flt: ThreadFilter) -> list[str]:
        """A warning naming the chosen threads left alone because their row cannot be read faithfully."""
        warnings = []
        for problem, what in (("undecodable_row", "holds bytes that are not UTF-8"),
                              ("malformed_row", "holds a value of the wrong type")):
            ids = [t.id for t in self.report.threads if flt.matches(t) and problem in t.problems]
            if ids:
                warnings.append(f"{len(ids)} thread(s) left alone: their row {what} ({', '.join(ids[:5])})")
        return warnings

    def selected(self, flt: ThreadFilter) -> list[ThreadAudit]:
        """The threads the filter chooses, less those whose row cannot be read faithfully."""
        return [t for t in self.report.threads if flt.matches(t) and not set(t.problems) & UNREADABLE_ROWS]


def describe_thread(t: ThreadAudit) -> str:
    """A few words that tell threads apart in an ambiguity error."""
    facts = t.facts
    where = f"{facts.provider}, {facts.cwd or 'no cwd'}" if facts else "no readable rollout"
    return f"{'row' if t.row is not None else 'file only'}, {where}"


def resolve_thread(ref: str, report: AuditReport) -> ThreadAudit:
    """The one thread `ref` names in this home (its id, or a prefix only it has)."""
    by_id = {t.id: t for t in report.threads}
    full = resolve_prefix(ref, by_id, noun="thread", where=f"{report.codex_dir} (neither a row nor a rollout file)",
                          describe=lambda i: describe_thread(by_id[i]))
    return by_id[full]


def require_known_threads(flt: ThreadFilter, report: AuditReport) -> ThreadFilter:
    """Each --thread names exactly one thread of this home: the filter with their full ids.

    One that names nothing is NotFound, not an empty plan; an ambiguous prefix is refused with
    what it could mean, never taken as all of them."""
    if not flt.threads:
        return flt
    ids = tuple(dict.fromkeys(resolve_thread(ref, report).id for ref in flt.threads))
    return replace(flt, threads=ids)
