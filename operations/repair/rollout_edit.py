"""Edit rollout lines and keep every byte offset that points into them true.

`RolloutEdit` holds the new bytes of some lines of one rollout; `history_shifts` and
`fork_offsets` produce the effects that keep `thread_history_1.sqlite` and forks'
`session_meta.history_base` pointing at the same bytes after lines change length.

A compressed rollout (`.jsonl.zst`) is edited in its decompressed content and written back
compressed, as Codex's own worker writes it (zstd level 3, mode and mtime kept): a
`zstd_edit`, whose original bytes are kept in the home's store (`kept_store`) for undo.
Byte offsets (thread_history, forks) count decompressed bytes: Codex appends to, and reads by
offset, only the plain file it decompresses a `.zst` to, whose bytes are that content.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from journal.effects import Effect, FileEdit, RowChange, RowsUpdate, RowUpdate, plan_file_edit, plan_zstd_edit
from journal.fileio import sha256_hex
from journal.runner import PlannedOp
from journal.sqlio import SQLITE_ERRORS, connect_ro
from operations.audit_model import ThreadAudit
from operations.jsonedit import EditRefused, replace_value
from operations.repair.plan import Plan, Why
from operations.repair.rollout_files import kept_store, writable_single_file
from operations.repair.rows import row_update
from operations.repair.selection import RepairContext
from operations.rollout_io import MAX_CONTENT, read_content
from operations.rollouts import Rollout
from operations.schema import damaged


@dataclass
class RolloutEdit:
    """The new bytes of some lines of one rollout, and how each edit moves later bytes."""

    rollout: Rollout | None
    data: bytes
    lines: list[bytes]
    starts: list[int]
    new_lines: dict[int, bytes] = field(default_factory=dict)  # 1-based line -> bytes
    # the JSON values each edit changed, said by the edit itself (proven by jsonedit.verify), so
    # planning need not parse the lines again to find them; a line edited without saying is diffed
    said: dict[int, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    unsaid: set[int] = field(default_factory=set)
    deltas: dict[int, int] = field(default_factory=dict)  # line -> how much longer it became
    # `settle()` makes the file_edit and lets go of the bytes (a plan over thousands of rollouts
    # would hold them all); a later change (a fork's offset) reads the file again
    settled: FileEdit | None = None
    # a compressed rollout: its compressed bytes' (size, sha256), and the store its original is kept in
    original: tuple[int, str] | None = None
    store: str | None = None

    @classmethod
    def read(cls, rollout: Rollout, store: Path | None = None) -> RolloutEdit:
        """The rollout's content (decompressed when it is a `.jsonl.zst`; `store` is then where its
        original bytes will be kept)."""
        raw, data = cls._load(rollout)
        edit = cls.of(data, rollout)
        if rollout.compressed:
            if store is None:
                raise EditRefused(f"{rollout.path} is compressed and no store was given for its original bytes")
            edit.original, edit.store = (len(raw), sha256_hex(raw)), str(store)
        return edit

    @staticmethod
    def _load(rollout: Rollout) -> tuple[bytes, bytes]:
        try:
            return read_content(rollout.path, MAX_CONTENT)
        except ValueError as exc:  # a damaged frame, or more than MAX_CONTENT once decompressed
            raise EditRefused(f"{rollout.path}: {exc}") from None

    @classmethod
    def of(cls, data: bytes, rollout: Rollout | None = None) -> RolloutEdit:
        """An edit of these bytes (a file in a bundle has no path in this home yet)."""
        lines = data.split(b"\n")
        starts, at = [], 0
        for line in lines:
            starts.append(at)
            at += len(line) + 1
        return cls(rollout, data, lines, starts)

    def change(self, number: int, new: bytes, path: str | None = None, old: Any = None, value: Any = None) -> None:
        """Line `number` becomes `new`: the JSON value at dotted `path` went from `old` to `value`
        (`path` None: the change is found by comparing the lines)."""
        self._reopen()
        self.new_lines[number] = new
        self.deltas[number] = len(new) - len(self.lines[number - 1])
        if path is None:
            self.unsaid.add(number)
            return
        fields = self.said.setdefault(number, {})
        first = fields[path][0] if path in fields else old
        fields[path] = (first, value)

    def line(self, number: int) -> bytes:
        self._reopen()
        return self.new_lines.get(number, self.lines[number - 1])

    def shift(self, offset: int) -> int:
        """Where a byte offset of the old file lands in the new one."""
        return offset + sum(delta for number, delta in self.deltas.items() if self.starts[number - 1] < offset)

    def effects(self) -> tuple[FileEdit, ...]:
        if self.settled is None and not self.new_lines:
            return ()
        edit = self.settled or self._file_edit()
        return (edit,) if edit.splices else ()

    def settle(self) -> None:
        """Make the file_edit now and let go of the file's bytes, its lines and the new lines."""
        if self.rollout is None or not self.new_lines:
            return
        self.settled = self._file_edit()
        self.data, self.lines, self.new_lines = b"", [], {}

    def _file_edit(self) -> FileEdit:
        assert self.rollout is not None, "an edit of bytes alone has no file to rewrite"
        fields = {n: tuple((p, a, b) for p, (a, b) in said.items()) for n, said in self.said.items()
                  if n not in self.unsaid}
        if self.original is not None and self.store is not None:
            size, digest = self.original
            return plan_zstd_edit(self.rollout.path, self.new_lines, self.data, size, digest,
                                  str(Path(self.store) / digest), fields)
        return plan_file_edit(self.rollout.path, self.new_lines, self.data, fields)

    def _reopen(self) -> None:
        """Bring back what `settle()` let go: the file as planned, with the settled edit made."""
        if self.settled is None:
            return
        assert self.rollout is not None
        raw, data = self._load(self.rollout)
        if sha256_hex(data) != self.settled.sha256_before or (
                self.original is not None and sha256_hex(raw) != self.original[1]):
            raise EditRefused(f"{self.rollout.path} changed while the plan was being made")
        after = self.settled.spliced(data).split(b"\n")
        self.data, self.lines = data, data.split(b"\n")
        self.new_lines = {n: after[n - 1] for n in self.deltas}
        self.settled = None


def set_path(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def history_shifts(db: str, conn: sqlite3.Connection, thread_id: str, edit: RolloutEdit) -> list[Effect]:
    """Row updates that keep thread_history_1's byte offsets true after the edit: the thread's
    projection state, and its turns' offsets in one `rows_update`."""
    if not edit.deltas:
        return []
    effects: list[Effect] = []
    state = conn.execute("SELECT next_rollout_byte_offset FROM thread_history_projection_state "
                         "WHERE thread_id = ?", (thread_id,)).fetchone()
    if state is not None and edit.shift(state[0]) != state[0]:
        effects.append(RowUpdate(str(db), "thread_history_projection_state", {"thread_id": thread_id},
                                 {"next_rollout_byte_offset": state[0]},
                                 {"next_rollout_byte_offset": edit.shift(state[0])}))
    turns = []
    for turn_id, start, end in conn.execute(
            "SELECT turn_id, rollout_byte_offset, rollout_end_byte_offset FROM thread_turns WHERE thread_id = ? "
            "ORDER BY turn_id", (thread_id,)):
        moved = tuple(edit.shift(v) if v is not None else None for v in (start, end))
        if moved != (start, end):
            turns.append(RowChange((turn_id,), (start, end), moved))
    if turns:
        effects.append(RowsUpdate(str(db), "thread_turns", {"thread_id": thread_id}, ("turn_id",),
                                  ("rollout_byte_offset", "rollout_end_byte_offset"), tuple(turns)))
    return effects


def fork_offsets(ctx: RepairContext, edits: dict[str, RolloutEdit], plan: Plan) -> dict[str, list[Effect]]:
    """Keep forks' `history_base.end_byte_offset` pointing at the same bytes of a rewritten parent.

    A fork that is itself migrated gets the change in its own first-line edit; otherwise the
    parent's operation carries the fork's line rewrite.
    """
    extra: dict[str, list[Effect]] = {}
    for t in ctx.report.threads:
        for f in t.files:
            base = f.meta.history_base if f.meta else None
            if not base or base.get("thread_id") not in edits:
                continue
            parent = edits[base["thread_id"]]
            old = base.get("end_byte_offset")
            if not isinstance(old, int) or parent.shift(old) == old:
                continue
            new = parent.shift(old)
            mutate = set_path(("payload", "history_base", "end_byte_offset"), new)
            try:
                child = edits[t.id] if t.id in edits else RolloutEdit.read(f, kept_store(ctx.home.codex_home))
                child.change(1, replace_value(child.line(1), "end_byte_offset", old, new, mutate),
                             "payload.history_base.end_byte_offset", old, new)
                if t.id not in edits:
                    extra.setdefault(base["thread_id"], []).extend(child.effects())
            except EditRefused as exc:
                plan.warnings.append(f"fork {t.id}: history_base offset not updated: {exc}")
    return extra


def editable_rollout(t: ThreadAudit, ctx: RepairContext, plan: Plan) -> Rollout | None:
    """A readable rollout (plain or compressed) this tool may rewrite; otherwise refuse with the reason."""
    file = writable_single_file(t, ctx, plan)
    if file is None:
        return None
    if file.format != "current":
        plan.leave(t.id, Why("unreadable_rollout", f"{file.path}: the first line is not a readable session_meta "
                             f"({file.format})"))
        return None
    return file


def edit_rollouts(ctx: RepairContext, plan: Plan, candidates: list[ThreadAudit],
                  edit_lines: Callable[[RolloutEdit], None]) -> dict[str, RolloutEdit]:
    """Read each candidate's rollout and let `edit_lines` change it; refusals are noted in the plan."""
    edits: dict[str, RolloutEdit] = {}
    for t in candidates:
        file = editable_rollout(t, ctx, plan)
        if file is None:
            continue
        try:
            edit = RolloutEdit.read(file, kept_store(ctx.home.codex_home))
            edit_lines(edit)
        except (EditRefused, orjson.JSONDecodeError) as exc:
            plan.leave(t.id, Why("edit_refused", f"{file.path}: {exc}"))
            continue
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:  # a damaged or hand-made file
            plan.leave(t.id, Why("line_shape", f"{file.path}: a line is not shaped as Codex writes it "
                                 f"({type(exc).__name__}: {exc})"))
            continue
        except OSError as exc:
            plan.leave(t.id, Why("unreadable", f"cannot read {file.path}: {exc}"))
            continue
        edit.settle()
        edits[t.id] = edit
    return edits


def build_ops(ctx: RepairContext, plan: Plan, candidates: list[ThreadAudit], edits: dict[str, RolloutEdit],
              rows: dict[str, dict[str, Any]], row_after: Callable[[dict[str, Any]], dict[str, Any]],
              label: Callable[[str], str]) -> None:
    """One operation per thread: its line rewrites, the offsets they move, and its row update."""
    refused = {r.thread for r in plan.left_alone}
    extra = fork_offsets(ctx, edits, plan)
    history_db = ctx.home.thread_history_db
    try:
        history = connect_ro(str(history_db)) if history_db is not None and edits else None
    except SQLITE_ERRORS as exc:
        raise damaged(str(history_db), exc) from None
    try:
        for t in candidates:
            if t.id in refused:
                continue
            effects: list[Effect] = []
            own = edits.get(t.id)
            if own is not None:
                effects += own.effects()
                if history is not None:
                    try:
                        effects += history_shifts(str(history_db), history, t.id, own)
                    except SQLITE_ERRORS as exc:  # unreadable, or not the tables Codex makes
                        raise damaged(str(history_db), exc) from None
            effects += extra.get(t.id, [])
            row = rows.get(t.id)
            if row is not None:
                after = row_after(row)
                if any(row.get(k) != v for k, v in after.items()):
                    effects.append(row_update(ctx.home, t.id, row, after))
            if effects:
                plan.ops.append(PlannedOp(label(t.id), tuple(effects), subject=t.id))
    finally:
        if history is not None:
            history.close()
