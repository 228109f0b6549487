"""The report the recovery method asks for after every write: before and after totals,
integrity deltas, what the IDE list shows, and the rollback artifacts."""

from __future__ import annotations

from typing import Any

from operations.audit_model import INTEGRITY_PROBLEMS, AuditReport


def snapshot_of(report: AuditReport) -> dict[str, Any]:
    return {
        "threads": report.counts["threads_total"], "archived": report.counts["threads_archived"],
        "providers": report.distribution["model_provider"],
        "integrity": {code: report.problems.get(code, 0) for code in INTEGRITY_PROBLEMS},
        "ide_listed": report.visibility["ide"]["listed"], "ide_hidden": report.visibility["ide"]["hidden"],
    }


def before_after(before: AuditReport, after: AuditReport) -> dict[str, Any]:
    b, a = snapshot_of(before), snapshot_of(after)
    integrity = {code: [b["integrity"][code], a["integrity"][code]] for code in INTEGRITY_PROBLEMS
                 if b["integrity"][code] or a["integrity"][code]}
    return {"before": b, "after": a, "integrity_delta": integrity}


def render(report: dict[str, Any]) -> list[str]:
    b, a = report["before"], report["after"]
    lines = [
        "before -> after:",
        f"  threads {b['threads']} -> {a['threads']}; archived {b['archived']} -> {a['archived']}",
        f"  providers {_providers(b['providers'])} -> {_providers(a['providers'])}",
        f"  listed by the IDE (thread/list) {b['ide_listed']} -> {a['ide_listed']}; "
        f"hidden {b['ide_hidden']} -> {a['ide_hidden']}",
    ]
    if report["integrity_delta"]:
        lines.append("  integrity: " + ", ".join(f"{code} {x} -> {y}"
                                                 for code, (x, y) in report["integrity_delta"].items()))
    else:
        lines.append("  integrity: no problems before or after")
    return lines


def _providers(dist: dict[str, int]) -> str:
    return ", ".join(f"{p or '(none)'} {n}" for p, n in dist.items()) or "none"
