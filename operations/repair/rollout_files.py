"""A thread's rollout file as planners find and move it: the one file, whether this tool may
write it, where Codex keeps it, and the moves that put it there."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from journal.effects import Effect, FileMove
from journal.fileio import file_digest, kind_of
from journal.guard import cached_realpath, symlink_in, within_roots
from operations.audit_model import ThreadAudit
from operations.home import CodexHome
from operations.repair.plan import Plan, Why
from operations.repair.rows import current_rows
from operations.repair.selection import RepairContext
from operations.rollouts import Rollout, parse_name

LIVE_SESSION = Why("active_orphan", "ACTIVE_ORPHAN: a live session (writer lock held or written in the last minutes); "
                   "left alone")
ROW_GONE = Why("row_gone", "the row disappeared while planning")


def canonical_path(home: CodexHome, name: str, archived: bool) -> Path:
    """Where Codex keeps a rollout: flat archived_sessions/, or sessions/YYYY/MM/DD/ from the name."""
    if archived:
        return home.codex_home / "archived_sessions" / name
    date = name[len("rollout-"): len("rollout-") + 10]
    year, month, day = date.split("-")
    return home.codex_home / "sessions" / year / month / day / name


def check_writable_file(path: str, home: CodexHome) -> Why | None:
    """Why a rollout must be left alone, or None: outside the home, behind a symlink (the file or a
    folder on its way), not a regular file, read-only."""
    absolute = os.path.abspath(path)
    link = symlink_in(absolute, home.roots)
    if link is not None:
        return (Why("symlink", f"{path} is a symlink; it is left alone") if link == absolute
                else Why("behind_symlink", f"{path} is reached through the symlink {link}; what lies behind a "
                         "symlink is left alone"))
    if not within_roots(absolute, [cached_realpath(str(r)) for r in home.roots]):
        return Why("outside_home", f"{path} is outside the Codex home; it is left alone")
    try:
        mode = os.lstat(absolute).st_mode
    except OSError as exc:
        return Why("unreadable", f"cannot stat {path}: {exc}")
    if not stat.S_ISREG(mode):
        return Why("not_regular_file", f"{path} is not a regular file ({kind_of(mode)}); it is left alone")
    if not mode & stat.S_IWUSR:
        return Why("read_only", f"{path} is read-only; it is left alone")
    return None


def behind_symlink(path: str | Path, home: CodexHome) -> Why | None:
    """Why nothing may be moved to `path`, when a folder on its way is a symlink (or it is one)."""
    link = symlink_in(str(path), home.roots)
    return None if link is None else Why("behind_symlink", f"{path} would be reached through the symlink {link}; it "
                                                            "is left alone")


def move_effect(src: Rollout | str, dst: Path, touch_ns: int | None = None) -> FileMove:
    path = src.path if isinstance(src, Rollout) else src
    sha, size = file_digest(path)
    return FileMove(path, str(dst), sha, size, os.stat(path).st_mtime_ns, touch_ns)


def single_file(t: ThreadAudit) -> tuple[Rollout | None, Why | None]:
    """The one rollout file of a thread. A `.jsonl.zst` beside its `.jsonl` is the same file to
    Codex, which reads the plain one (checked with the real binary): so is it here."""
    by_plain: dict[str, list[Rollout]] = {}
    for f in t.files:
        by_plain.setdefault(f.plain_path, []).append(f)
    if not by_plain and t.row is not None and "rollout_path_outside_home" in t.problems:
        return None, Why("outside_home", f"rollout_path {t.row.rollout_path} is outside the Codex home and no copy "
                         "is here; it is left alone")
    if not by_plain:
        return None, Why("no_file", "no rollout file with this thread id exists in the home")
    if len(by_plain) > 1:
        return None, Why("several_files", "several candidate files: " + ", ".join(sorted(by_plain)) + "; not guessing")
    (files,) = by_plain.values()
    return min(files, key=lambda f: f.compressed), None


def compressed_twin(t: ThreadAudit, file: Rollout) -> Rollout | None:
    """The `.jsonl.zst` beside the plain `file`, which Codex ignores while the plain file exists."""
    return next((f for f in t.files if f.compressed and f.plain_path == file.path), None)


def writable_single_file(t: ThreadAudit, ctx: RepairContext, plan: Plan) -> Rollout | None:
    """The thread's one rollout, if this tool may write it; otherwise refuse with the reason."""
    if "active_orphan" in t.problems:
        plan.leave(t.id, LIVE_SESSION)
        return None
    file, why = single_file(t)
    if file is None:
        plan.leave(t.id, why or Why("no_file", "no file"))
        return None
    problem = check_writable_file(file.path, ctx.home)
    if problem:
        plan.leave(t.id, problem)
        return None
    if compressed_twin(t, file) is not None:
        plan.warnings.append(f"{t.id}: both {file.path} and {file.path}.zst exist; Codex reads the plain file, and "
                             "so does this operation: the .zst (which Codex ignores while the plain file exists) "
                             "is not edited, and a move takes it along")
    return file


def each_with_row(ctx: RepairContext, plan: Plan,
                  wanted: list[ThreadAudit]) -> Iterator[tuple[ThreadAudit, dict[str, Any]]]:
    """(thread, its current row) for each wanted thread, each counted as considered; a thread whose
    row disappeared since the audit is left alone."""
    rows = current_rows(ctx.home, [t.id for t in wanted])
    for t in wanted:
        plan.considered += 1
        row = rows.get(t.id)
        if row is None:
            plan.leave(t.id, ROW_GONE)
            continue
        yield t, row


def each_writable(ctx: RepairContext, plan: Plan,
                  wanted: list[ThreadAudit]) -> Iterator[tuple[ThreadAudit, dict[str, Any], Rollout]]:
    """(thread, its current row, its one writable rollout) for each wanted thread; others are refused."""
    for t, row in each_with_row(ctx, plan, wanted):
        file = writable_single_file(t, ctx, plan)
        if file is not None:
            yield t, row, file


def move_to_canonical(ctx: RepairContext, plan: Plan, t: ThreadAudit, file: Rollout, *, archived: bool,
                      touch_ns: int | None = None) -> tuple[Path, list[Effect]] | None:
    """Where the file will be (where Codex would keep it: `.jsonl.zst` for a compressed file) and
    the moves that put it there; a compressed twin Codex ignores moves with it, so that it stays
    a twin rather than become a second copy of the thread.

    None, with the thread left alone, when another file already occupies that place, or when a
    file to go to a dated folder carries no date in its name (renamed by hand).
    """
    name = os.path.basename(file.plain_path)
    if not archived and parse_name(name)[1] is None:  # no dated folder to go to
        plan.leave(t.id, Why("undated_name", f"{name} carries no date, so the dated folder Codex would keep it in "
                             "is unknown"))
        return None
    target = canonical_path(ctx.home, name, archived=archived)
    destination = Path(str(target) + ".zst") if file.compressed else target
    effects: list[Effect] = []
    twin = compressed_twin(t, file)
    for moving, to in ((file, destination), *(((twin, Path(str(target) + ".zst")),) if twin else ())):
        if os.path.abspath(moving.path) == str(to):
            continue
        if os.path.lexists(to):
            plan.leave(t.id, Why("destination_exists", f"{to} already exists"))
            return None
        blocked = behind_symlink(to, ctx.home)
        if blocked:
            plan.leave(t.id, blocked)
            return None
        effects.append(move_effect(moving, to, touch_ns))
    return destination, effects


def kept_store(codex_home: Path) -> Path:
    """Where the original bytes of compressed rollouts this tool rewrites are kept, by sha256:
    inside the home, so undo never depends on anything outside it; `prune` removes the copies no
    operation in effect can need."""
    return codex_home / "codex-sessions" / "staging" / "originals"
