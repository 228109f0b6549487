"""`file_edit` (format 3): byte splices inside lines of one file, guarded by the file's digest.

The journal stores, per file, its size and sha256 before and after, and per changed line
only the bytes that changed (grouped when many lines change the same way) and the JSON
fields they belong to, for people. Compare-and-swap is on the whole file: forward, the file
must be exactly as planned; back, the part this edit wrote must be intact, and bytes
appended since (a line another program added) are kept, so such an undo is offered as forceable drift.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from journal.codec import bytes_from_json, bytes_to_json
from journal.durability import IOContext
from journal.effects.base import Effect, OneFileEffect, Probe, StepHook, json_text, register, short
from journal.effects.diff import json_changes, splice_of
from journal.errors import CasFailed
from journal.fileio import file_digest, open_regular, prefix_digest, replace_contents, sha256_hex, stale_temp_for

Field = tuple[str, Any, Any]  # dotted JSON path, value before, value after


@dataclass(frozen=True)
class Splice:
    """At byte `at` of line `line` (1-based), `old` becomes `new`; `fields` name the JSON values."""

    line: int
    at: int
    old: bytes
    new: bytes
    fields: tuple[Field, ...] = ()

    def inverse(self) -> Splice:
        return Splice(self.line, self.at, self.new, self.old, tuple((f, b, a) for f, a, b in self.fields))


@register
@dataclass(frozen=True)
class FileEdit(OneFileEffect):
    """Splices in lines of `path`, taking it from (`size_before`, `sha256_before`) to
    (`size_after`, `sha256_after`). Lines never gain or lose a newline."""

    kind: ClassVar[str] = "file_edit"
    path: str
    size_before: int
    sha256_before: str
    size_after: int
    sha256_after: str
    splices: tuple[Splice, ...]

    def describe(self) -> str:
        lines = sorted({s.line for s in self.splices})
        return f"rewrite line{'s' if len(lines) > 1 else ''} {_numbers(lines)} of {self.path}"

    def render(self) -> list[str]:
        out = [f"edit {self.path} ({self.size_before} -> {self.size_after} bytes)"]
        for lines, splice in _grouped(self.splices):
            where = f"line{'s' if len(lines) > 1 else ''} {_numbers([n for n, _ in lines])}"
            if splice.fields:
                out += [f"  {where}: {f}: {json_text(a)} -> {json_text(b)}" for f, a, b in splice.fields]
            else:
                old, new = (short(bytes_to_json(b), 80) for b in (splice.old, splice.new))
                out.append(f"  {where}: {old} -> {new}")
        return out

    def to_json(self) -> dict[str, Any]:
        groups = []
        for lines, splice in _grouped(self.splices):
            group: dict[str, Any] = {"at": [list(pair) for pair in lines], "old": bytes_to_json(splice.old),
                                     "new": bytes_to_json(splice.new)}
            if splice.fields:
                group["fields"] = [list(f) for f in splice.fields]
            groups.append(group)
        return {"kind": self.kind, "path": self.path,
                "before": {"size": self.size_before, "sha256": self.sha256_before},
                "after": {"size": self.size_after, "sha256": self.sha256_after}, "splices": groups}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileEdit:
        splices = []
        for group in data["splices"]:
            old, new = bytes_from_json(group["old"]), bytes_from_json(group["new"])
            fields = tuple((f[0], f[1], f[2]) for f in group.get("fields", []))
            splices += [Splice(int(line), int(at), old, new, fields) for line, at in group["at"]]
        return cls(data["path"], int(data["before"]["size"]), data["before"]["sha256"], int(data["after"]["size"]),
                   data["after"]["sha256"], tuple(sorted(splices, key=lambda s: s.line)))

    def inverse(self) -> FileEdit:
        return FileEdit(self.path, self.size_after, self.sha256_after, self.size_before, self.sha256_before,
                        tuple(s.inverse() for s in self.splices))

    def leftovers(self) -> tuple[str, ...]:
        return (stale_temp_for(self.path),)

    def spliced(self, data: bytes) -> bytes:
        """`data` with every splice made; CasFailed when a line does not hold its `old` bytes."""
        lines = data.split(b"\n")
        for s in self.splices:
            index = s.line - 1
            if index >= len(lines) or lines[index][s.at:s.at + len(s.old)] != s.old:
                raise CasFailed(f"line {s.line} of {self.path} does not hold the expected bytes")
            line = lines[index]
            lines[index] = line[:s.at] + s.new + line[s.at + len(s.old):]
        return b"\n".join(lines)

    def _read(self) -> bytes | None:
        try:
            with open_regular(self.path) as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def probe(self, io: IOContext | None = None) -> Probe:
        """Sizes first, then digests read in chunks: the file is never read whole, whatever its size
        (a journal handed over may name any file)."""
        try:
            size = os.stat(self.path).st_size
            before = size == self.size_before and prefix_digest(self.path, size) == self.sha256_before
            after = not before and size >= self.size_after and \
                prefix_digest(self.path, self.size_after) == self.sha256_after
        except FileNotFoundError:
            return Probe("other", f"{self.path} does not exist", blocking=True)
        except OSError as exc:  # a folder, a FIFO, a device, no permission
            return Probe("other", f"cannot read {self.path}: {exc}", blocking=True)
        observed = {"size": size}
        if before:
            return Probe("before", observed=observed)
        if after:
            if size == self.size_after:
                return Probe("after", observed=observed)
            return Probe("after_drift", f"{self.path} grew by {size - self.size_after} bytes since (appended;"
                         " the appended bytes are kept)", observed=observed)
        try:
            digest = file_digest(self.path)[0]  # what a foreign value is, if recovery must accept it
        except OSError:
            digest = None
        return Probe("other", f"{self.path} changed since ({size} bytes, and not only appended to)",
                     blocking=True, observed={**observed, "sha256": digest})

    def rebased_inverse(self, seen: Probe) -> Effect:
        """Forced over appended bytes: the inverse starts from the file as it is, tail included."""
        inverse = self.inverse()
        if seen.state != "after_drift":
            return inverse
        data = self._read()
        if data is None:
            return inverse
        restored = inverse.spliced(data[:self.size_after]) + data[self.size_after:]
        return FileEdit(self.path, len(data), sha256_hex(data), len(restored), sha256_hex(restored),
                        inverse.splices)

    @classmethod
    def apply_step(cls, effects: Sequence[Effect], io: IOContext | None, hook: StepHook | None) -> None:
        for effect in effects:
            assert isinstance(effect, FileEdit)
            effect.apply(io)

    def apply(self, io: IOContext | None = None) -> None:
        """Check the whole file, splice, check the result, and replace the file keeping its mtime."""
        try:
            st = os.stat(self.path)
            with open_regular(self.path) as handle:
                data = handle.read(self.size_before + 1)
        except FileNotFoundError:
            raise CasFailed(f"{self.path} does not exist") from None
        if len(data) != self.size_before or sha256_hex(data) != self.sha256_before:
            raise CasFailed(f"{self.path} is not as planned ({len(data)} bytes; expected {self.size_before})")
        result = self.spliced(data)
        if len(result) != self.size_after or sha256_hex(result) != self.sha256_after:
            raise CasFailed(f"{self.path}: the edit does not give the recorded result")
        replace_contents(self.path, result, st, io)


def plan_file_edit(path: str, new_lines: dict[int, bytes], data: bytes,
                   fields: dict[int, tuple[Field, ...]] | None = None) -> FileEdit:
    """The `file_edit` that gives some lines of `path` (whose content is `data`) new bytes.

    `new_lines` maps 1-based line numbers to their new bytes (without a newline); `fields`, the
    JSON values a caller knows (and has proven) each line's edit changed; the other lines are
    parsed and compared to find them."""
    fields = fields or {}
    lines = data.split(b"\n")
    changed = list(lines)
    splices = []
    for number, after in sorted(new_lines.items()):
        if number < 1 or number > len(lines) or (number == len(lines) and lines[-1] == b""):
            raise ValueError(f"{path} has no line {number}")
        if b"\n" in after:
            raise ValueError(f"the new line {number} of {path} holds a newline")
        before = lines[number - 1]
        if before == after:
            continue
        changed[number - 1] = after
        at, old, new = splice_of(before, after)
        said = fields.get(number)
        splices.append(Splice(number, at, old, new, said if said is not None else json_changes(before, after)))
    result = b"\n".join(changed)
    return FileEdit(path, len(data), sha256_hex(data), len(result), sha256_hex(result), tuple(splices))


def _grouped(splices: Sequence[Splice]) -> list[tuple[list[tuple[int, int]], Splice]]:
    """Splices that make the same change (bytes and fields), with the lines and offsets of each."""
    groups: dict[tuple[bytes, bytes, str], tuple[list[tuple[int, int]], Splice]] = {}
    for s in splices:
        key = (s.old, s.new, repr(s.fields))
        groups.setdefault(key, ([], s))[0].append((s.line, s.at))
    return list(groups.values())


def _numbers(numbers: Sequence[int], shown: int = 6) -> str:
    text = ", ".join(str(n) for n in numbers[:shown])
    return text + (f" and {len(numbers) - shown} more" if len(numbers) > shown else "")
