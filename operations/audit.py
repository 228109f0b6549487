"""The read-only audit: collects what a Codex home holds, and judges each thread: its files, its
row, its problems and why each client hides it (the model: operations/audit_model.py; the
summaries: operations/audit_summary.py; what to do next: operations/advice.py).

Starts from the seed's `session_audit.py` figures (same names, so its checklist still
applies) and goes beyond them: per-thread problems and per-client visibility.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from journal.guard import symlink_in
from journal.sqlio import SQLITE_ERRORS, connect_ro
from operations.advice import suggestions
from operations.audit_model import AuditReport, ThreadAudit
from operations.audit_summary import Judge, client_summaries, desktop_window
from operations.codex_config import BUILTIN_PROVIDERS
from operations.desktop.report import read_desktop
from operations.gc_pause import paused_gc
from operations.home import CodexHome
from operations.lock_probes import held_writer_locks
from operations.path_spelling import inside_of, spellings
from operations.rollout_io import head_lines, plain_name
from operations.rollouts import Found, Rollout, file_name, parse_name, scan_home, source_kind
from operations.running import RunningCheck
from operations.schema import StateSchema, damaged, inspect_state_db
from operations.threads import ThreadRow, load_rows
from operations.visibility import Facts

ACTIVE_WINDOW_S = 300
# An mtime at most this far ahead of our clock is taken as "just written" (clocks on one
# machine and its file systems drift by seconds). Further ahead, the mtime says nothing about
# liveness (a copied home, a skewed clock): only a held writer lock marks such a file live.
FUTURE_SKEW_S = 300
READABLE_FORMATS = ("current",)
ROW_FILE_FORMATS = (*READABLE_FORMATS, "empty")  # an empty file is a session Codex has not written yet
LISTED_LOCATIONS = ("dated", "archived")

# The reason a client gives for a file it cannot list, per kind of entry skipped by the scan.
SKIPPED_TEXT = {"broken symlink": "a symlink whose target is missing"}


def mtime_age(mtime_ns: int, now_ns: int) -> str:
    """'recent' (written within ACTIVE_WINDOW_S, or up to FUTURE_SKEW_S ahead), 'future' (further
    ahead: says nothing about liveness) or 'old'."""
    age_ns = now_ns - mtime_ns
    if age_ns < -FUTURE_SKEW_S * 1_000_000_000:
        return "future"
    return "recent" if age_ns < ACTIVE_WINDOW_S * 1_000_000_000 else "old"


def scan_ranks(rollouts: list[Rollout]) -> dict[str, int]:
    """Each file's newest-first rank in the folder Codex's scan walks (the dated folders, or
    archived_sessions/), ordered as Codex orders them: by the name's timestamp, then its id."""
    ranks: dict[str, int] = {}
    for location in LISTED_LOCATIONS:
        named = [r for r in rollouts if r.location == location and r.file_id and r.name_date]
        named.sort(key=lambda r: file_name(r.plain_path), reverse=True)
        ranks.update((r.path, n) for n, r in enumerate(named, start=1))
    return ranks


def _best_rank(files: list[Rollout], ranks: dict[str, int]) -> int | None:
    if len(files) == 1:  # almost always: no list to build
        return ranks.get(files[0].path)
    found = [ranks[f.path] for f in files if f.path in ranks]
    return min(found) if found else None


def _backfill(db: Path, schema: StateSchema) -> dict[str, Any] | None:
    try:
        return _read_backfill(db)
    except SQLITE_ERRORS as exc:
        raise damaged(db, exc) from None


def _read_backfill(db: Path) -> dict[str, Any] | None:
    conn = connect_ro(str(db))
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "backfill_state" not in tables:
            return None
        cur = conn.execute("SELECT * FROM backfill_state WHERE id = 1")
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))
    finally:
        conn.close()


def run_audit(
    home: CodexHome,
    *,
    now: datetime,
    picker_cwd: str | None = None,
    max_samples: int = 10,
    progress: Callable[[int], None] | None = None,
    previous: AuditReport | None = None,
    running: RunningCheck | None = None,
) -> AuditReport:
    """Everything known about the home's threads and why each is hidden. `previous`: an audit of
    this home moments ago (before a run); the files it read that have not changed since are not
    read again, and the schema it judged is not judged again (no run changes a schema, and none
    runs while Codex does). `running`: whether Codex runs here, as the command checked it once
    (the process scan is not the audit's to repeat); without it the report says it was not checked."""
    with paused_gc():
        return _run_audit(home, now=now, picker_cwd=picker_cwd, max_samples=max_samples, progress=progress,
                          previous=previous, running=running)


def _run_audit(home: CodexHome, *, now: datetime, picker_cwd: str | None, max_samples: int,
               progress: Callable[[int], None] | None, previous: AuditReport | None,
               running: RunningCheck | None) -> AuditReport:
    warnings: list[str] = []
    if home.config.error:
        warnings.append(home.config.error)
    same_db = previous is not None and previous.state_db == (str(home.state_db) if home.state_db else None)
    schema = previous.schema if previous is not None and same_db else (
        inspect_state_db(home.state_db) if home.state_db else None)
    if schema:
        warnings.extend(f"writes are refused: {p}" for p in schema.problems)
        warnings.extend(schema.warnings)
    if home.state_db is None:
        warnings.append(f"no state database in {home.sqlite_home}; only the rollout files were audited")
    rows = load_rows(home.state_db, schema) if home.state_db and schema else []
    known = {f.path: f for t in previous.threads for f in t.files} if previous is not None else None
    scan = scan_home(home.codex_home, progress, known=known)
    rollouts = scan.rollouts
    skipped_by_id: dict[str, list[Found]] = defaultdict(list)
    for entry in scan.skipped:
        file_id = parse_name(os.path.basename(entry.path))[0]
        if file_id:
            skipped_by_id[file_id].append(entry)
    current = home.config.model_provider
    defined = set(home.config.providers) | set(BUILTIN_PROVIDERS)
    live_locks = set(running.held_writer_locks if running is not None else held_writer_locks(home.codex_home))
    now_ns = int(now.timestamp() * 1e9)

    files_by_id: dict[str, list[Rollout]] = defaultdict(list)
    for rollout in rollouts:
        if rollout.file_id:
            files_by_id[rollout.file_id].append(rollout)
    plain_paths = {r.plain_path: r for r in rollouts if not r.compressed}
    zst_paths = {r.plain_path: r for r in rollouts if r.compressed}
    row_ids = {r.id for r in rows}

    ranks = scan_ranks(rollouts)
    threads: list[ThreadAudit] = []
    inside = inside_of(home.roots)
    judge = Judge(current, picker_cwd)
    for row in rows:
        threads.append(_audit_row(row, files_by_id.get(row.id, []), plain_paths, zst_paths, home, inside,
                                  current, defined, judge, ranks, skipped_by_id.get(row.id, [])))
    for file_id, files in files_by_id.items():
        if file_id in row_ids:
            continue
        live = file_id in live_locks or any(mtime_age(f.mtime_ns, now_ns) == "recent" for f in files)
        threads.append(_audit_orphan(file_id, files, live, current, defined, judge, ranks,
                                     skipped_by_id.get(file_id, [])))
    for file_id, entries in skipped_by_id.items():
        if file_id not in row_ids and file_id not in files_by_id:
            threads.append(_audit_unread(file_id, entries, current, judge))
    if any(mtime_age(r.mtime_ns, now_ns) == "future" for r in rollouts):  # almost never: one pass, not one per thread
        for t in threads:
            if any(mtime_age(f.mtime_ns, now_ns) == "future" for f in t.files):
                t.problems.append("future_mtime")

    desktop_window(threads)
    problems = Counter(p for t in threads for p in t.problems)
    formats = Counter(r.format for r in rollouts)
    samples: dict[str, list[str]] = defaultdict(list)
    for t in threads:
        for p in t.problems:
            if len(samples[p]) < max_samples:
                samples[p].append(t.id)
    dup_paths = {t.id: [f.path for f in t.files] for t in threads if "duplicate_rollout_id" in t.problems}
    session_files = [r for r in rollouts if r.location in ("dated", "flat", "misplaced")]
    counts = {
        "sessions_rollouts": len(session_files),
        "archived_rollouts": len(rollouts) - len(session_files),
        "rollouts_total": len(rollouts),
        "threads_total": len(rows),
        "threads_active": sum(1 for r in rows if r.archived == 0),
        "threads_archived": sum(1 for r in rows if r.archived != 0),
        "sessions_total": len(threads),
    }
    integrity: dict[str, Any] = {}
    for name in ("disk_not_in_db", "db_not_on_disk", "missing_rollout_path", "duplicate_rollout_id"):
        integrity[f"{name}_count"] = problems.get(name, 0)
        integrity[f"{name}_sample"] = sorted(samples.get(name, []))
    integrity["duplicate_rollout_paths"] = {k: dup_paths[k] for k in sorted(dup_paths)[:max_samples]}
    integrity["active_orphan_count"] = problems.get("active_orphan", 0)
    integrity["active_orphan_sample"] = sorted(samples.get("active_orphan", []))
    distribution = {
        "model_provider": dict(Counter(r.model_provider for r in rows).most_common()),
        "cwd": dict(Counter(r.cwd for r in rows).most_common()),
    }
    return AuditReport(
        codex_dir=str(home.codex_home), sqlite_home=str(home.sqlite_home),
        state_db=str(home.state_db) if home.state_db else None, schema=schema, current_provider=current,
        defined_providers=tuple(sorted(defined)),
        codex_running=_running_data(running),
        stale_dbs=home.stale_dbs, backfill=_backfill(home.state_db, schema) if home.state_db and schema else None,
        counts=counts, distribution=distribution, integrity=integrity, formats=dict(formats),
        locations=dict(Counter(r.location for r in rollouts)),
        problems={k: problems[k] for k in sorted(problems)},
        visibility=client_summaries(threads, current, picker_cwd),
        threads=threads, warnings=warnings,
        cwd_spellings=list(spellings(sorted({r.cwd for r in rows})).values()),
        suggestions=suggestions(rows, threads),
        samples={k: sorted(samples[k]) for k in sorted(samples)}, skipped=scan.skipped,
        desktop=read_desktop(home, threads),  # issue 22: projects, the sidebar, the app's files
    )


def _running_data(running: RunningCheck | None) -> dict[str, Any]:
    if running is None:
        return {"running": None, "detail": "not checked by this command", "writer_locks": [], "databases": []}
    return {"running": running.running, "detail": running.describe(),
            "writer_locks": list(running.held_writer_locks), "databases": list(running.locked_databases)}


def _scanned(files: list[Rollout], thread_id: str) -> list[Rollout]:
    """The files Codex's scan would list as this thread: readable, where it looks, and whose
    session_meta names this thread (a file is listed under its session_meta id)."""
    return [f for f in files if f.format in READABLE_FORMATS and f.location in LISTED_LOCATIONS and f.link is None
            and (f.meta is None or not f.meta.id or f.meta.id == thread_id or f.meta.id.lower() == thread_id)]


def has_user_message(path: str, max_lines: int = 200) -> bool:
    """Whether the rollout's head has a user message (what Codex's scan takes the preview from);
    a compressed rollout's head is streamed, never inflated whole."""
    return any(b'"user_message"' in line or b'"UserMessage"' in line or b'"thread_goal_updated"' in line
               for line in head_lines(path, max_lines))


def _file_listable(rollout: Rollout) -> tuple[bool, str | None]:
    if rollout.format == "legacy_pre_2025_09":
        return False, "pre-September-2025 format, which current Codex cannot read"
    if rollout.format not in READABLE_FORMATS:
        return False, f"first line is not a readable session_meta ({rollout.format})"
    if rollout.location not in LISTED_LOCATIONS:
        return False, f"in the {rollout.location} layout, which listing does not walk"
    if rollout.link is not None:
        return False, f"reached through the symlink {rollout.link}, which Codex's file scan does not follow"
    return True, None


def _file_problems(t: ThreadAudit, files: list[Rollout]) -> None:
    if len(files) > 1:
        if len({f.plain_path for f in files}) > 1:
            t.problems.append("duplicate_rollout_id")
        if any(f.compressed for f in files) and any(not f.compressed for f in files):
            t.problems.append("plain_and_zst")
    for f in files:
        if f.format == "legacy_pre_2025_09":
            t.problems.append("old_format")
        elif f.format not in READABLE_FORMATS:
            t.problems.append("unreadable_file")
        if f.meta and f.meta.id and f.file_id and f.meta.id.lower() != f.file_id:
            t.problems.append("meta_id_mismatch")
        if f.location == "flat":
            t.problems.append("flat_layout")
        if f.link is not None:
            t.problems.append("symlinked_rollout")
    for entry in t.skipped:
        t.problems.append("symlinked_rollout" if entry.kind == "broken symlink" else "not_regular_file")
        if entry.link is not None:
            t.problems.append("symlinked_rollout")
    if len(t.problems) > 1:
        t.problems[:] = list(dict.fromkeys(t.problems))


def _pick(files: list[Rollout]) -> Rollout:
    return sorted(files, key=lambda f: (f.compressed, f.location not in LISTED_LOCATIONS, f.path))[0]


def _audit_row(row: ThreadRow, files: list[Rollout], plain: dict[str, Rollout], zst: dict[str, Rollout],
               home: CodexHome, inside: Callable[[str], bool], current: str, defined: set[str], judge: Judge,
               ranks: dict[str, int], skipped: list[Found]) -> ThreadAudit:
    t = ThreadAudit(row.id, row, files, recency_ms=row.recency_ms, skipped=skipped)
    if row.undecodable:
        t.problems.append("undecodable_row")
    if row.malformed:
        t.problems.append("malformed_row")
    named = plain_name(row.rollout_path)  # Codex stores the .zst name after archiving a compressed file
    at_path = plain.get(named) or zst.get(named)
    outside = bool(row.rollout_path) and not inside(row.rollout_path)
    if outside:
        t.problems.append("rollout_path_outside_home")
    exists = at_path is not None or (outside and (os.path.exists(named) or os.path.exists(named + ".zst")))
    if not exists:
        t.problems.append("missing_rollout_path")
        if files:
            t.problems.append("stale_rollout_path")
            t.found_at = _pick(files).plain_path
        elif skipped:
            pass  # something with its id is there, though not a readable file: not "nowhere"
        elif not outside and row.rollout_path and symlink_in(row.rollout_path, home.roots):
            t.problems.append("symlinked_rollout")  # behind a symlink that leads nowhere now (a disk not mounted?)
        else:
            t.problems.append("db_not_on_disk")
    _file_problems(t, files)
    file = at_path or (_pick(files) if files else None)
    if file is not None:
        in_archive = file.location.startswith("archived")
        if bool(row.archived) != in_archive:
            t.problems.append("archived_mismatch")
        if file.meta and file.meta.model_provider and file.meta.model_provider != row.model_provider:
            t.problems.append("provider_mismatch")
    scanned = _scanned(files, row.id)
    readable = at_path if at_path is not None and at_path.format in READABLE_FORMATS else (
        scanned[0] if scanned else None)
    meta = readable.meta if readable is not None else None
    provider = (meta.model_provider or current) if meta else row.model_provider
    if (provider and provider not in defined) or (row.model_provider and row.model_provider not in defined):
        t.problems.append("undefined_provider")
    empty_preview = row.has_empty_preview
    if empty_preview:
        t.problems.append("empty_preview")
    located = at_path or readable
    why = None if scanned else (_file_listable(files[0])[1] if files else _unread_reason(skipped) if skipped
                                else "no rollout file for it in this home")
    # An empty file is a session Codex has not written yet (it creates rollouts lazily): its row
    # stays listed by a database page. Unreadable ones drop out once Codex has looked at them.
    row_file = (at_path is not None and at_path.format in ROW_FILE_FORMATS) or (at_path is None and exists)
    facts = Facts(
        provider=provider,
        source=source_kind(meta.source) if meta and meta.source is not None else row.source,
        cwd=(meta.cwd if meta and meta.cwd else row.cwd),
        archived=located.location.startswith("archived") if located is not None else bool(row.archived),
        empty_preview=empty_preview,
        scan_preview_empty=bool(empty_preview and readable is not None and not has_user_message(readable.path)),
        in_scan=bool(scanned), row_file=row_file, file_problem=why,
        scan_rank=_best_rank(scanned, ranks),
    )
    judge(t, facts)
    return t


def _unread_reason(skipped: list[Found]) -> str:
    entry = skipped[0]
    return (f"{entry.path} is {SKIPPED_TEXT.get(entry.kind, 'a ' + entry.kind)}, not a rollout file: never read")


def _audit_unread(file_id: str, skipped: list[Found], current: str, judge: Judge) -> ThreadAudit:
    """A thread known only by entries named like its rollout that are not files: reported, never read."""
    t = ThreadAudit(file_id, None, [], skipped=skipped)
    _file_problems(t, [])
    # nothing was read, so no source is known: Codex's default for a missing one, so that the
    # only reason given is the file's
    facts = Facts(provider=current, source=source_kind(None), cwd="",
                  archived=skipped[0].location.startswith("archived"),
                  empty_preview=False, scan_preview_empty=False, in_scan=False, row_file=None,
                  file_problem=_unread_reason(skipped))
    judge(t, facts)
    return t


def _audit_orphan(file_id: str, files: list[Rollout], live: bool, current: str, defined: set[str],
                  judge: Judge, ranks: dict[str, int], skipped: list[Found]) -> ThreadAudit:
    t = ThreadAudit(file_id, None, files, recency_ms=max(f.mtime_ns for f in files) // 1_000_000, skipped=skipped)
    t.problems.append("disk_not_in_db")
    if live:
        t.problems.append("active_orphan")
    _file_problems(t, files)
    file = _pick(files)
    meta = file.meta if file.format in READABLE_FORMATS else None
    provider = (meta.model_provider if meta and meta.model_provider else current)
    if provider not in defined:
        t.problems.append("undefined_provider")
    listable, why = _file_listable(file)
    if listable and not _scanned([file], file_id):
        listable, why = False, "its session_meta names another thread, under whose id Codex lists it"
    no_message = listable and not has_user_message(file.path)
    facts = Facts(provider=provider, source=source_kind(meta.source) if meta else "unknown",
                  cwd=(meta.cwd or "") if meta else "", archived=file.location.startswith("archived"),
                  empty_preview=no_message, scan_preview_empty=no_message, in_scan=listable, row_file=None,
                  file_problem=why, scan_rank=_best_rank([file], ranks) if listable else None)
    judge(t, facts)
    return t
