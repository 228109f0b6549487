"""The read-only audit: counts, integrity, and why each session is hidden from each client.

Starts from the seed's `session_audit.py` figures (same names, so its checklist still
applies) and goes beyond them: per-thread problems and per-client visibility.
"""

from __future__ import annotations

import os
import shlex
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from journal.guard import symlink_in
from journal.sqlio import SQLITE_ERRORS, connect_ro
from operations.desktop.report import DesktopReport, desktop_steps, read_desktop
from operations.home import CodexHome
from operations.pathrules import is_windows_spelling, spellings
from operations.paths import BUILTIN_PROVIDERS, home_of_rollout, is_inside
from operations.rollout_io import head_lines, plain_name
from operations.rollouts import Found, Rollout, parse_name, scan_home, source_kind
from operations.safety import check_running, held_writer_locks
from operations.schema import StateSchema, damaged, inspect_state_db
from operations.threads import ThreadRow, load_rows
from operations.visibility import Facts, Visibility, ide, picker, reason_kind

ACTIVE_WINDOW_S = 300
# An mtime at most this far ahead of our clock is taken as "just written" (clocks on one
# machine and its file systems drift by seconds). Further ahead, the mtime says nothing about
# liveness (a copied home, a skewed clock): only a held writer lock marks such a file live.
FUTURE_SKEW_S = 300
READABLE_FORMATS = ("current",)
LISTED_LOCATIONS = ("dated", "archived")

# problems that mean the index and the files disagree (what `audit --check` exits 4 on)
INTEGRITY_PROBLEMS = (
    "disk_not_in_db", "db_not_on_disk", "missing_rollout_path", "duplicate_rollout_id", "archived_mismatch",
    "meta_id_mismatch", "provider_mismatch", "rollout_path_outside_home", "plain_and_zst", "unreadable_file",
    "not_regular_file",
)
PROBLEM_TEXT = {
    "disk_not_in_db": "rollout file with no row in `threads`",
    "active_orphan": "rollout with no row that is live (writer lock held or written in the last minutes); "
                     "never import it",
    "future_mtime": "rollout modified more than 5 minutes in the future of this machine's clock (a copied home or "
                    "a skewed clock): its mtime cannot tell whether it is live, so only Codex's writer lock is "
                    "trusted",
    "scan_window": "older than the newest 10,000 rollout files in its folder: Codex's file scan (every default "
                   "listing) stops there; resume it by id, or archive sessions you no longer need to bring it back "
                   "into view",
    "db_not_on_disk": "row with no rollout file for its id anywhere in this home",
    "missing_rollout_path": "row whose `rollout_path` does not exist (if its file is elsewhere in the dated folders, "
                            "Codex 0.169 still lists it, but resuming it fails: \"no rollout found\")",
    "stale_rollout_path": "row whose file is elsewhere in this home (repair-paths can fix it)",
    "duplicate_rollout_id": "more than one rollout file for one thread id",
    "archived_mismatch": "`archived` flag disagrees with the folder the file is in",
    "meta_id_mismatch": "`session_meta.id` differs from the id in the file name (Codex 0.169 also lists the file "
                        "under the session_meta id)",
    "provider_mismatch": "row's `model_provider` differs from the rollout's (Codex re-reads the rollout)",
    "undefined_provider": "provider not defined in config.toml (Codex cannot resume such threads)",
    "empty_preview": "the row's preview is empty: listings from the database hide it (Codex's file scan still lists "
                     "it when the rollout has a user message)",
    "rollout_path_outside_home": "`rollout_path` points outside this home (a copied or moved home)",
    "plain_and_zst": "both .jsonl and .jsonl.zst exist: Codex reads the .jsonl and ignores the .zst while it exists "
                     "(repairs act on the .jsonl and move the .zst with it)",
    "unreadable_file": "first line is not a readable session_meta",
    "old_format": "pre-September-2025 format: current Codex cannot read it",
    "flat_layout": "old flat layout under sessions/: listing walks only sessions/YYYY/MM/DD",
    "undecodable_row": "the row holds bytes that are not UTF-8 (shown here with U+FFFD); every repair leaves this "
                       "thread alone",
    "malformed_row": "a column of the row holds a value of the wrong type (e.g. text in `archived`); every repair "
                     "leaves this thread alone",
    "not_regular_file": "a FIFO, socket or device named like a rollout: never opened (reading one could wait "
                        "forever), and left alone by every repair",
    "symlinked_rollout": "the rollout is reached through a symlink (a symlinked folder or file): read, but never "
                         "moved, rewritten or forgotten; Codex's file scan does not follow symlinks, so only a "
                         "database listing shows it (resuming a thread in a symlinked folder works)",
}
# The reason a client gives for a file it cannot list, per kind of entry skipped by the scan.
SKIPPED_TEXT = {"broken symlink": "a symlink whose target is missing"}


@dataclass
class ThreadAudit:
    id: str
    row: ThreadRow | None
    files: list[Rollout]
    problems: list[str] = field(default_factory=list)
    facts: Facts | None = None
    ide: Visibility | None = None
    picker_cwd: Visibility | None = None
    picker_all: Visibility | None = None
    desktop: Visibility | None = None
    recency_ms: int = 0
    found_at: str | None = None  # where the file really is, when the row points elsewhere
    skipped: list[Found] = field(default_factory=list)  # its entries that are not files: never read

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "has_row": self.row is not None, "files": [f.path for f in self.files],
            "problems": self.problems,
            "ide": {"listed": self.ide.listed, "reasons": list(self.ide.reasons)} if self.ide else None,
            "picker_all": ({"listed": self.picker_all.listed, "reasons": list(self.picker_all.reasons)}
                           if self.picker_all else None),
        }
        if self.picker_cwd:
            out["picker_cwd"] = {"listed": self.picker_cwd.listed, "reasons": list(self.picker_cwd.reasons)}
        if self.desktop:
            out["desktop"] = {"listed": self.desktop.listed, "reasons": list(self.desktop.reasons)}
        if self.facts:
            out["provider"], out["cwd"], out["source"] = self.facts.provider, self.facts.cwd, self.facts.source
            out["archived"] = self.facts.archived
        if self.found_at:
            out["found_at"] = self.found_at
        links = sorted({f.link for f in self.files if f.link} | {f.link for f in self.skipped if f.link})
        if links:
            out["symlinks"] = links
        if self.skipped:
            out["not_read"] = [{"path": f.path, "kind": f.kind} for f in self.skipped]
        return out


@dataclass
class AuditReport:
    codex_dir: str
    sqlite_home: str
    state_db: str | None
    schema: StateSchema | None
    current_provider: str
    defined_providers: tuple[str, ...]
    codex_running: dict[str, Any]
    stale_dbs: tuple[str, ...]
    backfill: dict[str, Any] | None
    counts: dict[str, int]
    distribution: dict[str, dict[str, int]]
    integrity: dict[str, Any]
    formats: dict[str, int]
    locations: dict[str, int]
    problems: dict[str, int]
    visibility: dict[str, Any]
    threads: list[ThreadAudit]
    warnings: list[str]
    cwd_spellings: list[list[str]] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    samples: dict[str, list[str]] = field(default_factory=dict)  # per finding, the first threads with it
    skipped: list[Found] = field(default_factory=list)  # entries named like rollouts that are not files
    desktop: DesktopReport | None = None  # the desktop app's layers (operations/desktop/, issue 22)

    @property
    def integrity_problem_count(self) -> int:
        return sum(self.problems.get(code, 0) for code in INTEGRITY_PROBLEMS)


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
        named.sort(key=lambda r: os.path.basename(r.plain_path), reverse=True)
        ranks.update((r.path, n) for n, r in enumerate(named, start=1))
    return ranks


def _best_rank(files: list[Rollout], ranks: dict[str, int]) -> int | None:
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
) -> AuditReport:
    """Everything known about the home's threads and why each is hidden. `previous`: an audit of
    this home moments ago (before a run); the files it read that have not changed since are not
    read again."""
    warnings: list[str] = []
    if home.config.error:
        warnings.append(home.config.error)
    schema = inspect_state_db(home.state_db) if home.state_db else None
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
    live_locks = set(held_writer_locks(home.codex_home))
    dbs = [home.state_db] if home.state_db else []
    running = check_running(home.codex_home, dbs, try_write_lock=False)
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
    for row in rows:
        threads.append(_audit_row(row, files_by_id.get(row.id, []), plain_paths, zst_paths, home, current, defined,
                                  picker_cwd, ranks, skipped_by_id.get(row.id, [])))
    for file_id, files in files_by_id.items():
        if file_id in row_ids:
            continue
        live = file_id in live_locks or any(mtime_age(f.mtime_ns, now_ns) == "recent" for f in files)
        threads.append(_audit_orphan(file_id, files, live, current, defined, picker_cwd, ranks,
                                     skipped_by_id.get(file_id, [])))
    for file_id, entries in skipped_by_id.items():
        if file_id not in row_ids and file_id not in files_by_id:
            threads.append(_audit_unread(file_id, entries, current, picker_cwd))
    for t in threads:
        if any(mtime_age(f.mtime_ns, now_ns) == "future" for f in t.files):
            t.problems.append("future_mtime")

    _desktop_window(threads)
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
        codex_running={"running": running.running, "detail": running.describe(),
                       "writer_locks": list(running.held_writer_locks), "databases": list(running.locked_databases)},
        stale_dbs=home.stale_dbs, backfill=_backfill(home.state_db, schema) if home.state_db and schema else None,
        counts=counts, distribution=distribution, integrity=integrity, formats=dict(formats),
        locations=dict(Counter(r.location for r in rollouts)),
        problems={k: problems[k] for k in sorted(problems)},
        visibility=_summaries(threads, current, picker_cwd),
        threads=threads, warnings=warnings,
        cwd_spellings=list(spellings(sorted({r.cwd for r in rows})).values()),
        suggestions=_suggestions(rows, threads),
        samples={k: sorted(samples[k]) for k in sorted(samples)}, skipped=scan.skipped,
        desktop=read_desktop(home, threads),  # issue 22: projects, the sidebar, the app's files
    )


def _suggestions(rows: list[ThreadRow], threads: list[ThreadAudit]) -> list[str]:
    """Exact commands for cwds missing on this machine and rows pointing into another home."""
    out: list[str] = []
    per_cwd = Counter(r.cwd for r in rows if r.cwd)
    missing = Counter({cwd: n for cwd, n in per_cwd.items() if not os.path.isdir(cwd)})
    for cwd, n in missing.most_common(10):
        style = " --from-style windows" if is_windows_spelling(cwd) or cwd.startswith("/mnt/") else ""
        out.append(f"{n} thread(s) in {cwd}, which does not exist here: "
                   f"codex-sessions run rewrite-cwd --from {shlex.quote(cwd)} --to NEW_FOLDER{style}")
    homes: Counter[str] = Counter()
    for t in threads:
        if t.row is not None and "rollout_path_outside_home" in t.problems and "db_not_on_disk" not in t.problems:
            old = home_of_rollout(t.row.rollout_path)
            if old:
                homes[old] += 1
    beyond = sum(1 for t in threads if "scan_window" in t.problems)
    if beyond:
        out.append(f"{beyond} session(s) are older than the newest 10,000 rollout files, where Codex's file scan "
                   "stops: resume one by id (`codex resume ID`), or archive newer sessions you no longer need "
                   "(codex-sessions run archive --thread ID) so that older ones come back into view")
    for old, n in homes.most_common(3):
        out.append(f"{n} row(s) point into another home, {old}, and their files are here: codex-sessions run "
                   f"relocate-home --from {shlex.quote(old)}")
    return out


def _scanned(files: list[Rollout], thread_id: str) -> list[Rollout]:
    """The files Codex's scan would list as this thread: readable, where it looks, and whose
    session_meta names this thread (a file is listed under its session_meta id)."""
    return [f for f in files if f.format in READABLE_FORMATS and f.location in LISTED_LOCATIONS and f.link is None
            and (f.meta is None or not f.meta.id or f.meta.id.lower() == thread_id)]


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
    plain = {f.plain_path for f in files}
    if len(plain) > 1:
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
    t.problems[:] = list(dict.fromkeys(t.problems))


def _pick(files: list[Rollout]) -> Rollout:
    return sorted(files, key=lambda f: (f.compressed, f.location not in LISTED_LOCATIONS, f.path))[0]


def _audit_row(row: ThreadRow, files: list[Rollout], plain: dict[str, Rollout], zst: dict[str, Rollout],
               home: CodexHome, current: str, defined: set[str], picker_cwd: str | None,
               ranks: dict[str, int], skipped: list[Found]) -> ThreadAudit:
    t = ThreadAudit(row.id, row, files, recency_ms=row.recency_ms, skipped=skipped)
    if row.undecodable:
        t.problems.append("undecodable_row")
    if row.malformed:
        t.problems.append("malformed_row")
    named = plain_name(row.rollout_path)  # Codex stores the .zst name after archiving a compressed file
    at_path = plain.get(named) or zst.get(named)
    outside = bool(row.rollout_path) and not is_inside(row.rollout_path, home.roots)
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
    for p in {provider, row.model_provider}:
        if p and p not in defined:
            t.problems.append("undefined_provider")
            break
    if row.has_empty_preview:
        t.problems.append("empty_preview")
    located = at_path or readable
    why = None if scanned else (_file_listable(files[0])[1] if files else _unread_reason(skipped) if skipped
                                else "no rollout file for it in this home")
    # An empty file is a session Codex has not written yet (it creates rollouts lazily): its row
    # stays listed by a database page. Unreadable ones drop out once Codex has looked at them.
    row_file = (at_path is not None and at_path.format in (*READABLE_FORMATS, "empty")) or (
        at_path is None and exists)
    facts = Facts(
        provider=provider,
        source=source_kind(meta.source) if meta and meta.source is not None else row.source,
        cwd=(meta.cwd if meta and meta.cwd else row.cwd),
        archived=located.location.startswith("archived") if located is not None else bool(row.archived),
        empty_preview=row.has_empty_preview,
        scan_preview_empty=bool(row.has_empty_preview and readable is not None
                                and not has_user_message(readable.path)),
        in_scan=bool(scanned), row_file=row_file, file_problem=why, scan_rank=_best_rank(scanned, ranks),
    )
    _visibility(t, facts, current, picker_cwd)
    return t


def _unread_reason(skipped: list[Found]) -> str:
    entry = skipped[0]
    return (f"{entry.path} is {SKIPPED_TEXT.get(entry.kind, 'a ' + entry.kind)}, not a rollout file: never read")


def _audit_unread(file_id: str, skipped: list[Found], current: str, picker_cwd: str | None) -> ThreadAudit:
    """A thread known only by entries named like its rollout that are not files: reported, never read."""
    t = ThreadAudit(file_id, None, [], skipped=skipped)
    _file_problems(t, [])
    # nothing was read, so no source is known: Codex's default for a missing one, so that the
    # only reason given is the file's
    facts = Facts(provider=current, source=source_kind(None), cwd="",
                  archived=skipped[0].location.startswith("archived"),
                  empty_preview=False, scan_preview_empty=False, in_scan=False, row_file=None,
                  file_problem=_unread_reason(skipped))
    _visibility(t, facts, current, picker_cwd)
    return t


def _audit_orphan(file_id: str, files: list[Rollout], live: bool, current: str, defined: set[str],
                  picker_cwd: str | None, ranks: dict[str, int], skipped: list[Found]) -> ThreadAudit:
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
    _visibility(t, facts, current, picker_cwd)
    return t


def _visibility(t: ThreadAudit, facts: Facts, current: str, picker_cwd: str | None) -> None:
    t.facts = facts
    if facts.in_scan and facts.beyond_window:
        t.problems.append("scan_window")
    t.ide = ide(facts, current)
    t.picker_all = picker(facts, current, None)
    t.picker_cwd = picker(facts, current, picker_cwd) if picker_cwd else None


def _summary(threads: list[ThreadAudit], pick: Callable[[ThreadAudit], Visibility | None], client: str,
             current: str) -> dict[str, Any]:
    total = len(threads)
    hidden = [t for t in threads if (v := pick(t)) is not None and not v.listed]
    by_kind: Counter[str] = Counter()
    providers: Counter[str] = Counter()
    for t in hidden:
        v = pick(t)
        assert v is not None
        for reason in v.reasons:
            by_kind[reason_kind(reason)] += 1
        if t.facts and t.facts.provider != current:
            providers[t.facts.provider] += 1
    parts = []
    for kind, n in by_kind.most_common():
        if kind == "provider":
            detail = ", ".join(f"`{p}`" for p, _ in providers.most_common(3))
            parts.append(f"{n} by provider ({detail} ≠ current `{current}`)")
        else:
            parts.append(f"{n} {kind}")
    text = f"{len(hidden)} of {total} sessions are hidden from {client}"
    text += (": " + ", ".join(parts)) if parts else ""
    if by_kind.get("source"):
        text += " (not interactive, e.g. `codex exec`: `codex resume --include-non-interactive` lists them)"
    return {"client": client, "total": total, "listed": total - len(hidden), "hidden": len(hidden),
            "by_reason": dict(by_kind.most_common()), "hidden_providers": dict(providers.most_common()),
            "summary": text}


DESKTOP_WINDOW = 50


def _desktop_window(threads: list[ThreadAudit]) -> None:
    """The desktop app shows only the ~50 most recent threads it lists (users' reports, see
    docs/users-and-peers.md "recent 50"; the app itself cannot run here to check)."""
    listed = sorted((t for t in threads if t.ide is not None and t.ide.listed),
                    key=lambda t: (t.recency_ms, t.id), reverse=True)
    rank = {t.id: n for n, t in enumerate(listed, start=1)}
    for t in threads:
        if t.ide is None:
            continue
        if not t.ide.listed:
            t.desktop = t.ide
        elif rank[t.id] > DESKTOP_WINDOW:
            t.desktop = Visibility(False, (f"recent window: number {rank[t.id]} by recency; the desktop app loads "
                                           f"only the {DESKTOP_WINDOW} most recent (pin it to keep it in view)",))
        else:
            t.desktop = Visibility(True, ())


def _summaries(threads: list[ThreadAudit], current: str, picker_cwd: str | None) -> dict[str, Any]:
    out = {
        "ide": _summary(threads, lambda t: t.ide, "the IDE list (app-server thread/list)", current),
        "desktop": _summary(threads, lambda t: t.desktop, "the desktop app's recent list", current),
        "picker_all": _summary(threads, lambda t: t.picker_all, "`codex resume --all`", current),
    }
    if picker_cwd:
        out["picker_cwd"] = _summary(threads, lambda t: t.picker_cwd, f"`codex resume` in {picker_cwd}", current)
    return out


def predict(report: AuditReport, changes: dict[str, Callable[[Facts], Facts] | None]) -> list[ThreadAudit]:
    """The threads as they will be once `changes` are made (None retires a thread), with each
    client's visibility recomputed by the same model the audit uses."""
    out: list[ThreadAudit] = []
    for t in report.threads:
        if t.id in changes and changes[t.id] is None:
            continue
        copy = ThreadAudit(t.id, t.row, t.files, [p for p in t.problems if p != "scan_window"],
                           recency_ms=t.recency_ms, found_at=t.found_at)
        change = changes.get(t.id)
        if t.facts is not None:
            _visibility(copy, change(replace(t.facts)) if change else t.facts, report.current_provider, None)
        out.append(copy)
    _desktop_window(out)
    return out


def summaries(threads: list[ThreadAudit], current: str) -> dict[str, Any]:
    return _summaries(threads, current, None)


def fixes_for(t: ThreadAudit, current: str) -> list[str]:
    """The commands that would make this thread visible, each one that would plan something for
    it (a thread whose rollout exists nowhere can only be retired)."""
    commands: list[str] = []
    base = f"codex-sessions run {{op}} --thread {t.id} --apply"
    if "active_orphan" in t.problems:
        return ["none now: the session is live; let Codex finish it, then audit again"]
    if "db_not_on_disk" in t.problems:
        return [f"its rollout exists nowhere in this home, so nothing can make it visible; if you have the file, "
                f"copy it into sessions/ and audit again; else retire the row: codex-sessions fix --forget-missing "
                f"--thread {t.id} --apply"]
    readable = t.facts is not None and t.facts.in_scan
    if "stale_rollout_path" in t.problems:
        commands.append(base.format(op="repair-paths"))
    elif "rollout_path_outside_home" in t.problems and t.row is not None:
        commands.append(base.format(op="relocate-home"))
    archived = bool(t.facts and t.facts.archived and readable)
    if t.row is None and "disk_not_in_db" in t.problems and readable:
        commands.append(f"codex-sessions fix --unarchive --thread {t.id} --apply" if archived
                        else base.format(op="import-orphans"))
    elif archived and t.row is not None and t.row.archived:
        commands.append(base.format(op="unarchive"))
    elif archived:
        commands.append("(its file is in archived_sessions/ while its row says not archived: Codex goes by the "
                        "folder, so it is archived; `codex unarchive ID` or the app's archive view brings it back)")
    if t.facts and t.facts.provider != current and readable:
        commands.append(base.format(op=f"migrate-provider --to {current}"))
    if t.facts and not readable and t.facts.file_problem:
        commands.append(f"(no readable rollout: {t.facts.file_problem}; nothing this tool can repair)")
    if t.facts and t.facts.source not in ("cli", "vscode"):
        commands.append(f"(source `{t.facts.source}`: list it with `codex resume --include-non-interactive`, "
                        "or in app-server with sourceKinds; the source is not changed by this tool)")
    if "scan_window" in t.problems:
        commands.append(f"(beyond Codex's 10,000-file scan window: resume it by id with `codex resume {t.id}`, or "
                        "archive newer sessions you no longer need: codex-sessions run archive --thread ID --apply)")
    if t.facts and t.facts.empty_preview:
        commands.append("(no user message: Codex never lists it; resume it by id with `codex resume " + t.id + "`)")
    return commands


def next_steps(report: AuditReport) -> list[str]:
    """The `fix` command this home needs, with its flags, and what it cannot change."""
    problems = report.problems
    hidden = report.visibility["ide"]["by_reason"]
    fixable = any(problems.get(p) for p in ("missing_rollout_path", "rollout_path_outside_home", "disk_not_in_db",
                                             "provider_mismatch")) or hidden.get("provider", 0) > 0
    flags = []
    if hidden.get("archived"):
        flags.append("--unarchive")
    if problems.get("db_not_on_disk"):
        flags.append("--forget-missing")
    steps = []
    if fixable or flags:
        command = " ".join(["codex-sessions fix", *flags])
        steps.append(f"see what would bring sessions back: {command}; then make it so: {command} --apply "
                     "(undo takes it back whole)")
        if "--unarchive" in flags:
            steps.append(f"--unarchive: {hidden['archived']} archived session(s) are hidden; leave it out to keep "
                         "them archived")
        if "--forget-missing" in flags:
            steps.append(f"--forget-missing: {problems['db_not_on_disk']} row(s) whose rollout exists nowhere are "
                         "retired (undoable); leave it out if you will put the files back")
    if hidden.get("source"):
        steps.append(f"{hidden['source']} session(s) are not interactive (e.g. `codex exec`): `codex resume "
                     "--include-non-interactive` lists them; no repair is needed")
    if report.desktop is not None:  # issue 22: the desktop app's layers
        steps += desktop_steps(report.desktop)
    return steps
