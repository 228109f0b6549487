"""Whole-line effects of earlier journal formats, still read, undone and redone.

Format 1 stored `line_rewrite` (the whole line before and after); format 2 stored
`line_splice` (the bytes that changed inside the line, with the line's and the file's
digests). Format 3 writes `file_edit` instead; an undo of a format 1 or 2 operation is still
recorded as a `line_splice`. All rewrites of one file in one operation apply as one step.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from journal.codec import bytes_from_json, bytes_to_json
from journal.durability import IOContext
from journal.effects.base import Effect, OneFileEffect, Probe, StepHook, json_text, register, short
from journal.effects.diff import json_changes, splice_of
from journal.errors import CasFailed
from journal.fileio import file_digest, read_line, replace_contents, sha256_hex, stale_temp_for


class _LineEffect(OneFileEffect):
    line: int

    def describe(self) -> str:
        return f"rewrite line {self.line} of {self.path}"

    def step_key(self) -> tuple[str, str] | None:
        return ("lines", self.path)

    def leftovers(self) -> tuple[str, ...]:
        return (stale_temp_for(self.path),)

    def materialize(self) -> Effect:
        return self

    @classmethod
    def apply_step(cls, effects: Sequence[Effect], io: IOContext | None, hook: StepHook | None) -> None:
        edits = [e.materialize() if isinstance(e, _LineEffect) else e for e in effects]
        rewrites = [e for e in edits if isinstance(e, LineRewrite)]
        if len(rewrites) != len(edits):
            odd = next(e for e in edits if not isinstance(e, LineRewrite))
            raise CasFailed(f"{odd.describe()}: the line holds neither the before nor the after value")
        apply_line_rewrites(rewrites[0].path, rewrites, io)


@register
@dataclass(frozen=True)
class LineRewrite(_LineEffect):
    """Replace the exact bytes of line `line` (1-based, without its newline) in `path` (format 1).

    `file_sha256_after` is the whole file's digest once the operation's rewrites of the file
    are done; undo uses it to notice later changes (for example a line another program appended).
    """

    kind: ClassVar[str] = "line_rewrite"
    path: str
    line: int
    before: bytes
    after: bytes
    file_sha256_before: str | None = None
    file_sha256_after: str | None = None

    def render(self) -> list[str]:
        return [f"line {self.line} of {self.path}"] + splice_render(self.splice)

    @functools.cached_property
    def splice(self) -> LineSplice:
        """What a format-2 journal stores: the changed bytes and digests, not the whole line."""
        at, old, new = splice_of(self.before, self.after)
        return LineSplice(self.path, self.line, at, old, new, sha256_hex(self.before), sha256_hex(self.after),
                          self.file_sha256_before, self.file_sha256_after, json_changes(self.before, self.after))

    def to_json(self) -> dict[str, Any]:
        return self.splice.to_json()  # whole lines are never written again

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LineRewrite:
        return cls(data["path"], int(data["line"]), bytes_from_json(data["before"]), bytes_from_json(data["after"]),
                   data.get("file_sha256_before"), data.get("file_sha256_after"))

    def inverse(self) -> LineRewrite:
        return LineRewrite(self.path, self.line, self.after, self.before, self.file_sha256_after,
                           self.file_sha256_before)

    def probe(self, io: IOContext | None = None) -> Probe:
        if not os.path.exists(self.path):
            return Probe("other", f"{self.path} does not exist", blocking=True)
        try:
            current = read_line(self.path, self.line)
            sha, size = file_digest(self.path) if current == self.after else ("", 0)
        except OSError as exc:  # a folder, a FIFO, a device, no permission
            return Probe("other", f"cannot read {self.path}: {exc}", blocking=True)
        if current == self.before and current != self.after:
            return Probe("before", observed={"line": current})
        if current == self.after:
            observed = {"line": current, "file_sha256": sha, "size": size}
            if self.file_sha256_after is None or sha == self.file_sha256_after:
                return Probe("after", observed=observed)
            return Probe("after_drift", f"{self.path} changed since (now {size} bytes)", observed=observed)
        return Probe("other", f"line {self.line} of {self.path} holds neither the before nor the after value",
                     blocking=True, observed={"line": current})

    def rebased_inverse(self, seen: Probe) -> Effect:
        inverse = self.inverse()
        obs = seen.observed
        if "file_sha256" in obs:
            return LineRewrite(inverse.path, inverse.line, obs["line"], inverse.after, obs["file_sha256"], None)
        return inverse


@register
@dataclass(frozen=True)
class LineSplice(_LineEffect):
    """A line rewrite as format 2 records it: at byte `at` of line `line`, `old` became `new`;
    the whole line's digest before and after (and the file's) guard compare-and-swap. The
    whole line is rebuilt from the file when the splice is checked or applied (`resolve`)."""

    kind: ClassVar[str] = "line_splice"
    path: str
    line: int
    at: int
    old: bytes
    new: bytes
    line_sha256_before: str
    line_sha256_after: str
    file_sha256_before: str | None = None
    file_sha256_after: str | None = None
    fields: tuple[tuple[str, Any, Any], ...] = ()

    def render(self) -> list[str]:
        return [f"line {self.line} of {self.path}"] + splice_render(self)

    def to_json(self) -> dict[str, Any]:
        out = {"kind": self.kind, "path": self.path, "line": self.line, "at": self.at,
               "old": bytes_to_json(self.old), "new": bytes_to_json(self.new),
               "line_sha256_before": self.line_sha256_before, "line_sha256_after": self.line_sha256_after,
               "file_sha256_before": self.file_sha256_before, "file_sha256_after": self.file_sha256_after}
        if self.fields:
            out["fields"] = [{"path": f, "before": a, "after": b} for f, a, b in self.fields]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LineSplice:
        return cls(data["path"], int(data["line"]), int(data["at"]), bytes_from_json(data["old"]),
                   bytes_from_json(data["new"]), data["line_sha256_before"], data["line_sha256_after"],
                   data.get("file_sha256_before"), data.get("file_sha256_after"),
                   tuple((f["path"], f.get("before"), f.get("after")) for f in data.get("fields", [])))

    def inverse(self) -> LineSplice:
        return LineSplice(self.path, self.line, self.at, self.new, self.old, self.line_sha256_after,
                          self.line_sha256_before, self.file_sha256_after, self.file_sha256_before,
                          tuple((f, new, old) for f, old, new in self.fields))

    def resolve(self, current: bytes) -> LineRewrite | None:
        """The whole-line rewrite this splice means, given the line as it is now (at its
        before or its after value), or None when the line holds neither."""
        digest = sha256_hex(current)
        if digest == self.line_sha256_before and current[self.at:self.at + len(self.old)] == self.old:
            after = current[:self.at] + self.new + current[self.at + len(self.old):]
            if sha256_hex(after) == self.line_sha256_after:
                return LineRewrite(self.path, self.line, current, after, self.file_sha256_before,
                                   self.file_sha256_after)
        if digest == self.line_sha256_after and current[self.at:self.at + len(self.new)] == self.new:
            before = current[:self.at] + self.old + current[self.at + len(self.new):]
            if sha256_hex(before) == self.line_sha256_before:
                return LineRewrite(self.path, self.line, before, current, self.file_sha256_before,
                                   self.file_sha256_after)
        return None

    def materialize(self) -> Effect:
        """The whole-line rewrite this splice means, from the line as it is now; itself when
        the line holds neither value."""
        if not os.path.exists(self.path):
            return self
        current = read_line(self.path, self.line)
        return (self.resolve(current) if current is not None else None) or self

    def probe(self, io: IOContext | None = None) -> Probe:
        rewrite = self.materialize()
        if isinstance(rewrite, LineRewrite):
            return rewrite.probe(io)
        exists = os.path.exists(self.path)
        return Probe("other", f"line {self.line} of {self.path} holds neither the before nor the after value"
                     if exists else f"{self.path} does not exist", blocking=True)

    def rebased_inverse(self, seen: Probe) -> Effect:
        rewrite = self.materialize()
        return rewrite.rebased_inverse(seen) if isinstance(rewrite, LineRewrite) else self.inverse()


def splice_render(splice: LineSplice) -> list[str]:
    if splice.fields:
        return [f"  {f}: {json_text(a)} -> {json_text(b)}" for f, a, b in splice.fields]
    return [f"  at byte {splice.at}: {short(bytes_to_json(splice.old))} -> {short(bytes_to_json(splice.new))}"]


def apply_line_rewrites(path: str, edits: list[LineRewrite], io: IOContext | None = None) -> None:
    """Rewrite lines in one pass: temp file in the same folder, same mtime, atomic rename."""
    st = os.stat(path)
    with open(path, "rb") as handle:
        data = handle.read()
    lines = data.split(b"\n")
    for edit in edits:
        index = edit.line - 1
        if index >= len(lines) or (index == len(lines) - 1 and lines[index] == b""):
            raise CasFailed(f"{path} has no line {edit.line}")
        if lines[index] != edit.before:
            raise CasFailed(f"line {edit.line} of {path} no longer holds the expected value")
        lines[index] = edit.after
    replace_contents(path, b"\n".join(lines), st, io)
