"""A second opinion that ships with Codex: `codex doctor --json`'s `state.rollout_db_parity`.

Codex's doctor (0.169+) counts what the audit counts: rollout files and rows, files without a
row, rows without a file, duplicate ids, archive mismatches, providers and sources. Where the
two define a figure the same way the numbers must be equal; where the definitions differ, the
audit's own data is also counted the doctor's way, and the difference is named (DIFFERENCES,
and docs/codex-doctor.md). Reading Codex's source (codex-rs/cli doctor `thread_inventory`) and
experiments with the real 0.169 and 0.171 binaries gave these definitions.

Running the doctor only reads the home (checked: it touches nothing but SQLite's `-shm`
files), but its other checks also probe the network (provider reachability); only the
parity check is shown here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from operations.audit_model import AuditReport
from operations.errors import CodexNotFound, DoctorFailed
from operations.rollout_io import plain_name
from operations.rollouts import Rollout, scan_rollouts

CHECK = "state.rollout_db_parity"
PREFIX = "rollout DB "
SCAN_CAP = 10_000  # doctor's MAX_PARITY_SCAN_FILES
SUMMARY_LIMIT = 8  # doctor lists at most 8 values of a distribution, then "other=N across M categories"
TIMEOUT_S = 180
# what the doctor cannot load (a scan error): as far as the first line tells
UNLOADABLE = ("empty", "legacy_pre_2025_09", "compressed_unread", "unreadable")

SUBAGENTS = ("review", "compact", "thread_spawn", "memory_consolidation")
SAME = "same definition"
DIFFERENCES = {
    "files": "Codex counts a .jsonl.zst beside its .jsonl once (it reads the plain one), and counts a file it "
             "cannot load (empty, pre-September-2025, a damaged .zst) as a scan error, not a file; the audit "
             "counts every rollout file it finds",
    "missing rows": "Codex: a file with no row at that exact path naming the file's session_meta id, so a moved "
                    "file, a row pointing into another home, a duplicate's second copy and a session_meta id that "
                    "differs from the name all count, and an unloadable file does not; the audit's disk_not_in_db: "
                    "a thread id (the file name's) with no row at all (a moved file is stale_rollout_path instead)",
    "archive mismatches": "Codex judges only a file at the row's own path; the audit the thread's file wherever it "
                          "is (a row whose file moved between sessions/ and archived_sessions/ counts only there)",
    "duplicates": "Codex keys each loadable file by its session_meta id (a copy under a name without an id "
                  "counts); the audit by the id in the file name, over distinct paths (a .jsonl and its .zst "
                  "are one)",
    "scan cap": "Codex's doctor stops after 10,000 candidate files (and then skips stale rows and archive "
                "mismatches); the audit reads every file",
    "doctor only": "the audit has no figure of its own for this",
}


@dataclass(frozen=True)
class Figure:
    """One figure of the doctor's parity check beside the audit's."""

    name: str
    doctor: Any  # as the doctor printed it (numbers as int, distributions as dicts)
    audit: Any  # the audit's own figure, by its own definition (None: it has none)
    audit_label: str | None  # the audit's name for it
    expected: Any  # the audit's data counted as the doctor counts
    definition: str  # SAME, or the difference, named
    comparable: bool = True  # False past the doctor's scan cap

    @property
    def agrees(self) -> bool:
        return not self.comparable or self.doctor == self.expected


@dataclass(frozen=True)
class DoctorComparison:
    binary: str
    codex_version: str | None
    status: str | None  # the check's own status (ok, warning)
    summary: str | None
    figures: tuple[Figure, ...]
    unknown: dict[str, Any] = field(default_factory=dict)  # figures this tool does not know (a newer doctor)

    @property
    def disagreements(self) -> list[Figure]:
        return [f for f in self.figures if not f.agrees]

    def to_json(self) -> dict[str, Any]:
        return {"binary": self.binary, "codex_version": self.codex_version, "status": self.status,
                "summary": self.summary, "agrees": not self.disagreements,
                "figures": [{"name": f.name, "doctor": f.doctor, "audit": f.audit, "audit_label": f.audit_label,
                             "audit_as_doctor_counts": f.expected, "definition": f.definition,
                             "comparable": f.comparable, "agrees": f.agrees} for f in self.figures],
                "unknown": self.unknown}


def find_codex(name: str = "codex") -> str:
    found = shutil.which(name)
    if found is None:
        raise CodexNotFound(f"--codex-doctor runs `{name} doctor --json`, but there is no `{name}` on the PATH; "
                            "install Codex (npm install -g @openai/codex) or put it on the PATH")
    return found


def run_doctor(binary: str, codex_home: Path) -> dict[str, Any]:
    """`codex doctor --json` for this home (CODEX_HOME set to it): the whole report. The doctor
    exits non-zero when any of its checks fails (a provider it cannot reach), so its exit code
    alone is no failure; output that is not its report is."""
    env = {**os.environ, "CODEX_HOME": str(codex_home), "NO_COLOR": "1"}
    try:
        done = subprocess.run([binary, "doctor", "--json"], env=env, capture_output=True, timeout=TIMEOUT_S,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise DoctorFailed(f"`{binary} doctor --json` could not run: {exc}") from None
    try:
        report = orjson.loads(done.stdout)
    except orjson.JSONDecodeError:
        report = None
    if not isinstance(report, dict) or not isinstance(report.get("checks"), dict):
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise DoctorFailed(f"`{binary} doctor --json` exited {done.returncode} without its JSON report"
                           + (f": {' / '.join(tail)}" if tail else "")
                           + " (Codex 0.169 or newer has `doctor`)")
    return report


def parity_details(report: dict[str, Any]) -> tuple[dict[str, Any], str | None, str | None]:
    """(the parity check's figures by name, its status, its summary); DoctorFailed without one."""
    check = report["checks"].get(CHECK)
    if not isinstance(check, dict) or not isinstance(check.get("details"), dict):
        raise DoctorFailed(f"this Codex ({report.get('codexVersion')}) reports no `{CHECK}` check")
    figures: dict[str, Any] = {}
    if isinstance(check["details"].get("default model provider"), str):
        figures["default model provider"] = check["details"]["default model provider"]
    for key, value in check["details"].items():
        if not key.startswith(PREFIX) or "sample" in key or not isinstance(value, str):
            continue
        figures[key[len(PREFIX):]] = parse_value(value)
    return figures, check.get("status"), check.get("summary")


def parse_value(text: str) -> Any:
    """`12` -> 12, `true` -> True, `a=2, b=1` -> {"a": 2, "b": 1}, `none` -> {}; else the text."""
    if text.isdigit():
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    if text == "none":
        return {}
    parts = [p.rpartition("=") for p in text.split(", ")]
    if parts and all(sep and count.split(" ", 1)[0].isdigit() for _, sep, count in parts):
        return {name: int(count.split(" ", 1)[0]) for name, _, count in parts}
    return text


def summarised(values: Iterable[str]) -> dict[str, int]:
    """A distribution as the doctor prints it: most common first, at most 8, the rest as `other`."""
    counts = sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))
    shown = dict(counts[:SUMMARY_LIMIT])
    if len(counts) > SUMMARY_LIMIT:
        shown["other"] = sum(n for _, n in counts[SUMMARY_LIMIT:])
    return shown


def source_category(source: str) -> str:
    """The doctor's coarse source kind of a row's `source` (a name, or compact JSON)."""
    try:
        value: Any = orjson.loads(source)
    except orjson.JSONDecodeError:
        value = source
    if isinstance(value, str):
        return {"cli": "cli", "vscode": "vscode", "exec": "exec", "mcp": "mcp", "app_server": "mcp",
                "unknown": "unknown"}.get(value, "unparsable")
    if isinstance(value, dict) and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind == "custom":
            return "custom"
        if kind == "subagent":
            name = inner if isinstance(inner, str) else next(iter(inner), "") if isinstance(inner, dict) else ""
            return "subagent:" + (name if name in SUBAGENTS else "other")
        if kind == "internal":
            return "internal:memory_consolidation"
    return "unparsable"


@dataclass(frozen=True)
class _File:
    rollout: Rollout
    archived: bool
    thread_id: str | None  # None: a name the doctor cannot parse (no session_meta id, no id in the name)


def _doctor_files(report: AuditReport) -> tuple[list[_File], int, int]:
    """(the files the doctor loads, its scan errors, its malformed names), from every rollout."""
    known = {f.path: f for t in report.threads for f in t.files}
    every = scan_rollouts(Path(report.codex_dir), known=known)
    plain = {r.path for r in every if not r.compressed}
    files: list[_File] = []
    errors = malformed = 0
    for r in every:
        if os.path.islink(r.path) or not os.path.isfile(r.path):
            continue  # the doctor's walk takes regular files only
        if r.compressed and r.plain_path in plain:
            continue  # hidden by its plain sibling, which Codex reads
        if r.format in UNLOADABLE:
            errors += 1
            continue
        thread_id = (r.meta.id.lower() if r.meta and r.meta.id else None) or r.file_id
        if thread_id is None:
            malformed += 1
            continue
        files.append(_File(r, r.location.startswith("archived"), thread_id))
    return files, errors, malformed


def _key(path: str) -> str:
    return os.path.normpath(plain_name(path))


def _exists(path: str) -> bool:
    named = plain_name(path)
    return bool(path) and (os.path.isfile(named) or os.path.isfile(named + ".zst"))


def audit_as_doctor(report: AuditReport) -> dict[str, Any]:
    """The audit's data counted as `codex doctor` counts it (see DIFFERENCES)."""
    files, errors, malformed = _doctor_files(report)
    rows = [t.row for t in report.threads if t.row is not None]
    by_path: dict[str, list[str]] = {}
    for row in rows:
        by_path.setdefault(_key(row.rollout_path), []).append(row.id)
    scanned = {_key(f.rollout.path): f for f in files}
    missing = [f for f in files if f.thread_id not in by_path.get(_key(f.rollout.path), [])]
    mismatched = 0
    for row in rows:
        found = scanned.get(_key(row.rollout_path))
        if found is not None:
            expected: bool | None = found.archived
        elif _exists(row.rollout_path):
            parts = Path(row.rollout_path).parts
            expected = True if "archived_sessions" in parts else False if "sessions" in parts else None
        else:
            expected = None
        if expected is not None and expected != bool(row.archived):
            mismatched += 1
    ids = Counter(f.thread_id for f in files)
    return {
        "default model provider": report.current_provider,
        "active files": sum(1 for f in files if not f.archived),
        "archived files": sum(1 for f in files if f.archived),
        "scan errors": errors,
        "malformed file names": malformed,
        "scan cap reached": len(files) + errors + malformed >= SCAN_CAP,
        "rows": len(rows),
        "active rows": sum(1 for r in rows if not r.archived),
        "archived rows": sum(1 for r in rows if r.archived),
        "missing active rows": sum(1 for f in missing if not f.archived),
        "missing archived rows": sum(1 for f in missing if f.archived),
        "stale rows": sum(1 for r in rows if not _exists(r.rollout_path)),
        "archive mismatches": mismatched,
        "duplicate rollout thread ids": sum(1 for n in ids.values() if n > 1),
        "duplicate DB paths": sum(1 for ids_at in by_path.values() if len(ids_at) > 1),
        "model providers": summarised(r.model_provider for r in rows),
        "sources": summarised(source_category(r.source) for r in rows),
    }


# figure -> (the audit's own figure, its label, the definition)
def _own(report: AuditReport) -> dict[str, tuple[Any, str | None, str]]:
    counts, problems = report.counts, report.problems
    unreadable = sum(n for fmt, n in report.formats.items() if fmt in UNLOADABLE)
    return {
        "default model provider": (report.current_provider, "config.model_provider", SAME),
        "active files": (counts["sessions_rollouts"], "counts.sessions_rollouts", DIFFERENCES["files"]),
        "archived files": (counts["archived_rollouts"], "counts.archived_rollouts", DIFFERENCES["files"]),
        "scan errors": (unreadable, "formats: empty, pre-2025-09, unreadable", DIFFERENCES["files"]),
        "malformed file names": (None, None, DIFFERENCES["doctor only"]),
        "scan cap reached": (False, None, DIFFERENCES["scan cap"]),
        "rows": (counts["threads_total"], "counts.threads_total", SAME),
        "active rows": (counts["threads_active"], "counts.threads_active", SAME),
        "archived rows": (counts["threads_archived"], "counts.threads_archived", SAME),
        "missing active rows": (problems.get("disk_not_in_db", 0), "integrity.disk_not_in_db_count (all folders)",
                                DIFFERENCES["missing rows"]),
        "missing archived rows": (None, None, DIFFERENCES["missing rows"]),
        "stale rows": (problems.get("missing_rollout_path", 0), "integrity.missing_rollout_path_count", SAME),
        "archive mismatches": (problems.get("archived_mismatch", 0), "problems.archived_mismatch",
                               DIFFERENCES["archive mismatches"]),
        "duplicate rollout thread ids": (problems.get("duplicate_rollout_id", 0),
                                         "integrity.duplicate_rollout_id_count", DIFFERENCES["duplicates"]),
        "duplicate DB paths": (None, None, DIFFERENCES["doctor only"]),
        "model providers": (report.distribution["model_provider"], "distribution.model_provider", SAME),
        "sources": (None, None, SAME + " (the rows' `source`, as the doctor groups it)"),
    }


CAPPED = ("active files", "archived files", "missing active rows", "missing archived rows", "stale rows",
          "archive mismatches", "duplicate rollout thread ids")


def compare(report: AuditReport, doctor: dict[str, Any], *, binary: str = "codex") -> DoctorComparison:
    """The doctor's report beside the audit's figures, each doctor figure with the audit's data
    counted the doctor's way."""
    details, status, summary = parity_details(doctor)
    expected = audit_as_doctor(report)
    own = _own(report)
    capped = details.get("scan cap reached") is True
    figures = []
    for name, (audit_value, label, definition) in own.items():
        audit_shown = dict(audit_value) if isinstance(audit_value, dict) else audit_value
        comparable = not (capped and name in CAPPED)
        figures.append(Figure(name, details.get(name), audit_shown, label, expected[name], definition, comparable))
    unknown = {k: v for k, v in details.items() if k not in own}
    return DoctorComparison(binary, doctor.get("codexVersion"), status, summary, tuple(figures), unknown)
