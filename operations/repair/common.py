"""What every repair operation shares: the audited home, filters, and effect builders."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from journal.effects import Effect, FileMove, RowUpdate
from journal.fileio import file_digest, kind_of
from journal.guard import cached_realpath, symlink_in, within_roots
from journal.runner import PlannedOp
from operations.audit import AuditReport, ThreadAudit
from operations.errors import ConfigRefused
from operations.home import CodexHome
from operations.pathrules import key
from operations.rollouts import Rollout, parse_name


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
class Refusal:
    thread: str
    reason: str


@dataclass
class Plan:
    """One operation's plan: per-thread journal operations, and the threads left alone with why."""

    operation: str
    ops: list[PlannedOp] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    considered: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def refuse(self, thread: str, reason: str) -> None:
        self.refused.append(Refusal(thread, reason))


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


def canonical_path(home: CodexHome, name: str, archived: bool) -> Path:
    """Where Codex keeps a rollout: flat archived_sessions/, or sessions/YYYY/MM/DD/ from the name."""
    if archived:
        return home.codex_home / "archived_sessions" / name
    date = name[len("rollout-"): len("rollout-") + 10]
    year, month, day = date.split("-")
    return home.codex_home / "sessions" / year / month / day / name


def check_writable_file(path: str, home: CodexHome) -> str | None:
    """Why a rollout must be left alone, or None: outside the home, behind a symlink (the file or a
    folder on its way), not a regular file, read-only."""
    absolute = os.path.abspath(path)
    link = symlink_in(absolute, home.roots)
    if link is not None:
        return (f"{path} is a symlink; it is left alone" if link == absolute
                else f"{path} is reached through the symlink {link}; what lies behind a symlink is left alone")
    if not within_roots(absolute, [cached_realpath(str(r)) for r in home.roots]):
        return f"{path} is outside the Codex home; it is left alone"
    try:
        mode = os.lstat(absolute).st_mode
    except OSError as exc:
        return f"cannot stat {path}: {exc}"
    if not stat.S_ISREG(mode):
        return f"{path} is not a regular file ({kind_of(mode)}); it is left alone"
    if not mode & stat.S_IWUSR:
        return f"{path} is read-only; it is left alone"
    return None


def behind_symlink(path: str | Path, home: CodexHome) -> str | None:
    """Why nothing may be moved to `path`, when a folder on its way is a symlink (or it is one)."""
    link = symlink_in(str(path), home.roots)
    return None if link is None else f"{path} would be reached through the symlink {link}; it is left alone"


def move_effect(src: Rollout | str, dst: Path, touch_ns: int | None = None) -> FileMove:
    path = src.path if isinstance(src, Rollout) else src
    sha, size = file_digest(path)
    return FileMove(path, str(dst), sha, size, os.stat(path).st_mtime_ns, touch_ns)


def default_provider(home: CodexHome) -> str:
    """The provider a migration goes to when none is named: config.toml's. Refused when Codex
    cannot use config.toml itself (it then runs with its defaults), which is rarely what was meant."""
    if home.config.error:
        raise ConfigRefused(f"{home.config.error}. Fix config.toml first, or name the provider with --to")
    return home.config.model_provider


def row_update(home: CodexHome, thread_id: str, before: dict[str, Any], after: dict[str, Any]) -> RowUpdate:
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    assert home.state_db is not None
    return RowUpdate(str(home.state_db), "threads", {"id": thread_id}, {k: before.get(k) for k in changed}, changed)


def with_updated_at(columns: tuple[str, ...], seconds: int, ms: int) -> dict[str, Any]:
    """updated_at and, where the schema has it, updated_at_ms (so Codex's trigger leaves it alone)."""
    values: dict[str, Any] = {"updated_at": seconds}
    if "updated_at_ms" in columns:
        values["updated_at_ms"] = ms
    return values


def text_as_audit_reads(data: bytes) -> str:
    """SQLite text as the audit reads it: UTF-8, and bytes that are not UTF-8 shown as U+FFFD,
    so one bad byte in a row never makes a read fail."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")


def current_rows(home: CodexHome, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Whole rows for these ids, read with one read-only connection; text as the audit reads it
    (a row that is not UTF-8 is `undecodable_row` in the audit, which repairs leave alone)."""
    from journal.sqlio import connect_ro

    out: dict[str, dict[str, Any]] = {}
    if not ids or home.state_db is None:
        return out
    conn = connect_ro(str(home.state_db))
    conn.text_factory = text_as_audit_reads
    try:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cur = conn.execute(f"SELECT * FROM threads WHERE id IN ({', '.join('?' for _ in chunk)})", chunk)
            names = [d[0] for d in cur.description]
            for values in cur:
                row = dict(zip(names, values, strict=True))
                out[row["id"]] = row
    finally:
        conn.close()
    return out


def single_file(t: ThreadAudit) -> tuple[Rollout | None, str | None]:
    """The one rollout file of a thread. A `.jsonl.zst` beside its `.jsonl` is the same file to
    Codex, which reads the plain one (checked with the real binary): so is it here."""
    by_plain: dict[str, list[Rollout]] = {}
    for f in t.files:
        by_plain.setdefault(f.plain_path, []).append(f)
    if not by_plain and t.row is not None and "rollout_path_outside_home" in t.problems:
        return None, (f"rollout_path {t.row.rollout_path} is outside the Codex home and no copy is here; "
                      "it is left alone")
    if not by_plain:
        return None, "no rollout file with this thread id exists in the home"
    if len(by_plain) > 1:
        return None, "several candidate files: " + ", ".join(sorted(by_plain)) + "; not guessing"
    (files,) = by_plain.values()
    return min(files, key=lambda f: f.compressed), None


def compressed_twin(t: ThreadAudit, file: Rollout) -> Rollout | None:
    """The `.jsonl.zst` beside the plain `file`, which Codex ignores while the plain file exists."""
    return next((f for f in t.files if f.compressed and f.plain_path == file.path), None)


def writable_single_file(t: ThreadAudit, ctx: RepairContext, plan: Plan) -> Rollout | None:
    """The thread's one rollout, if this tool may write it; otherwise refuse with the reason."""
    if "active_orphan" in t.problems:
        plan.refuse(t.id, "ACTIVE_ORPHAN: a live session (writer lock held or written in the last minutes); "
                          "left alone")
        return None
    file, why = single_file(t)
    if file is None:
        plan.refuse(t.id, why or "no file")
        return None
    problem = check_writable_file(file.path, ctx.home)
    if problem:
        plan.refuse(t.id, problem)
        return None
    if compressed_twin(t, file) is not None:
        plan.warnings.append(f"{t.id}: both {file.path} and {file.path}.zst exist; Codex reads the plain file, and "
                             "so does this operation: the .zst (which Codex ignores while the plain file exists) "
                             "is not edited, and a move takes it along")
    return file


def each_writable(ctx: RepairContext, plan: Plan,
                  wanted: list[ThreadAudit]) -> Iterator[tuple[ThreadAudit, dict[str, Any], Rollout]]:
    """(thread, its current row, its one writable rollout) for each wanted thread; others are refused."""
    rows = current_rows(ctx.home, [t.id for t in wanted])
    for t in wanted:
        plan.considered += 1
        row = rows.get(t.id)
        if row is None:
            plan.refuse(t.id, "the row disappeared while planning")
            continue
        file = writable_single_file(t, ctx, plan)
        if file is not None:
            yield t, row, file


def move_to_canonical(ctx: RepairContext, plan: Plan, t: ThreadAudit, file: Rollout, *, archived: bool,
                      touch_ns: int | None = None) -> tuple[Path, list[Effect]] | None:
    """Where the file will be (where Codex would keep it: `.jsonl.zst` for a compressed file) and
    the moves that put it there; a compressed twin Codex ignores moves with it, so that it stays
    a twin rather than become a second copy of the thread.

    None, with the thread refused, when another file already occupies that place.
    """
    name = os.path.basename(file.plain_path)
    if not archived and parse_name(name)[1] is None:  # a file renamed by hand: no dated folder to go to
        plan.refuse(t.id, f"{name} carries no date, so the dated folder Codex would keep it in is unknown")
        return None
    target = canonical_path(ctx.home, name, archived=archived)
    destination = Path(str(target) + ".zst") if file.compressed else target
    effects: list[Effect] = []
    twin = compressed_twin(t, file)
    for moving, to in ((file, destination), *(((twin, Path(str(target) + ".zst")),) if twin else ())):
        if os.path.abspath(moving.path) == str(to):
            continue
        if os.path.lexists(to):
            plan.refuse(t.id, f"{to} already exists")
            return None
        blocked = behind_symlink(to, ctx.home)
        if blocked:
            plan.refuse(t.id, blocked)
            return None
        effects.append(move_effect(moving, to, touch_ns))
    return destination, effects


def kept_store(codex_home: Path) -> Path:
    """Where the original bytes of compressed rollouts this tool rewrites are kept, by sha256:
    inside the home, so undo never depends on anything outside it; `prune` removes the copies no
    operation in effect can need."""
    return codex_home / "codex-sessions" / "staging" / "originals"
