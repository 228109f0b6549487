"""`audit --redact`: a report safe to paste into a public issue.

Kept: reason codes and counts, the schema level and Codex version guess, the layout
(which kinds of files and folders, how many), per thread its hashed id, its problem codes
and each client's reason kinds. Hashed: thread ids, provider names, each folder name of a
path (after `~`). Dropped: previews, titles, prompts, cwds, samples, warnings' text.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from operations.audit_model import AuditReport
from operations.visibility import label


def hashed(value: str) -> str:
    return "h:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:10]


def redacted_path(path: str, home: str | None = None) -> str:
    """`~` for the user's home, then every folder name hashed; the last component's kind kept."""
    home = home or os.path.expanduser("~")
    parts = Path(path).parts
    prefix = ""
    if path == home or path.startswith(home.rstrip(os.sep) + os.sep):
        prefix, parts = "~", Path(path[len(home):].lstrip(os.sep)).parts
    names = [p if p in (os.sep, ".codex", "sessions", "archived_sessions") else hashed(p) for p in parts]
    return os.path.join(prefix, *names) if prefix else os.path.join(*names) if names else ""


def _view(summary: dict[str, Any]) -> dict[str, Any]:
    return {"total": summary["total"], "listed": summary["listed"], "hidden": summary["hidden"],
            "by_reason": summary["by_reason"],
            "hidden_providers": {hashed(p): n for p, n in summary["hidden_providers"].items()}}


def redact(report: AuditReport) -> dict[str, Any]:
    schema = report.schema
    return {
        "redacted": True,
        "codex_dir": redacted_path(report.codex_dir),
        "sqlite_home_is_codex_home": report.sqlite_home == report.codex_dir,
        "schema": None if schema is None else {
            "generation": schema.generation, "max_migration": schema.max_migration,
            "migrations": schema.migration_count, "codex_version_guess": schema.codex_version_guess,
            "threads_column_count": len(schema.columns), "known": schema.known, "writable": schema.writable,
            "problem_count": len(schema.problems), "warning_count": len(schema.warnings),
        },
        "layout": {"locations": report.locations, "formats": report.formats, "stale_state_dbs": len(report.stale_dbs),
                   "backfill_status": (report.backfill or {}).get("status"),
                   "cwd_spelling_groups": len(report.cwd_spellings)},
        "config": {"current_provider": hashed(report.current_provider),
                   "defined_providers": len(report.defined_providers)},
        "codex_running": report.codex_running["running"],
        "counts": report.counts,
        "providers": {hashed(p): n for p, n in report.distribution["model_provider"].items()},
        "distinct_cwds": len(report.distribution["cwd"]),
        "integrity": {k: v for k, v in report.integrity.items() if k.endswith("_count")},
        "problems": report.problems,
        "visibility": {client: _view(s) for client, s in report.visibility.items()},
        "threads": [{"id": hashed(t.id), "problems": t.problems,
                     **{client: {"listed": v.listed, "reasons": sorted({label(r.kind) for r in v.reasons})}
                        for client, v in (("ide", t.ide), ("desktop", t.desktop), ("picker_all", t.picker_all))
                        if v is not None}}
                    for t in report.threads],
        "warning_count": len(report.warnings),
        "desktop": report.desktop.redacted(hashed) if report.desktop else None,  # issue 22
    }
