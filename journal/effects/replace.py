"""`file_replace`: a small file's whole content replaced, both contents kept in the journal.

For small files another program owns (a JSON settings file), where a byte splice would not
say more than the two contents do. Compare-and-swap is on the whole file: forward, it must
hold exactly `before`, and every witness (another file the new content was taken from or
checked against) must still hold the bytes it was planned with; back, it must hold exactly
`after`. The file's mode and mtime are kept, as every rewrite in this journal keeps them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from journal.codec import bytes_from_json, bytes_to_json
from journal.durability import IOContext
from journal.effects.base import Effect, OneFileEffect, Probe, StepHook, register
from journal.errors import CasFailed
from journal.fileio import file_digest, replace_contents, sha256_hex, stale_temp_for


@dataclass(frozen=True)
class Witness:
    """Another file that must hold exactly these bytes (by size and sha256) when the replace is made."""

    path: str
    size: int
    sha256: str

    def check(self) -> str | None:
        """Why the witness no longer holds, or None."""
        try:
            sha, size = file_digest(self.path)
        except OSError as exc:
            return f"{self.path} cannot be read: {exc}"
        if (size, sha) != (self.size, self.sha256):
            return f"{self.path} changed since the plan ({self.size} -> {size} bytes)"
        return None


@register
@dataclass(frozen=True)
class FileReplace(OneFileEffect):
    """`path` goes from exactly `before` to exactly `after` (whole contents)."""

    kind: ClassVar[str] = "file_replace"
    path: str
    before: bytes
    after: bytes
    witnesses: tuple[Witness, ...] = ()

    def describe(self) -> str:
        return f"replace the content of {self.path}"

    def render(self) -> list[str]:
        out = [f"replace {self.path} ({len(self.before)} -> {len(self.after)} bytes)",
               f"  sha256 {sha256_hex(self.before)[:16]}… -> {sha256_hex(self.after)[:16]}…"]
        out += [f"  only while {w.path} holds sha256 {w.sha256[:16]}… ({w.size} bytes)" for w in self.witnesses]
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind, "path": self.path,
            "before": {"size": len(self.before), "sha256": sha256_hex(self.before), "data": bytes_to_json(self.before)},
            "after": {"size": len(self.after), "sha256": sha256_hex(self.after), "data": bytes_to_json(self.after)},
        }
        if self.witnesses:
            out["witnesses"] = [{"path": w.path, "size": w.size, "sha256": w.sha256} for w in self.witnesses]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileReplace:
        before, after = bytes_from_json(data["before"]["data"]), bytes_from_json(data["after"]["data"])
        for side, content in (("before", before), ("after", after)):
            if sha256_hex(content) != data[side]["sha256"]:
                raise ValueError(f"file_replace {side} content does not match its sha256")
        witnesses = tuple(Witness(w["path"], int(w["size"]), w["sha256"]) for w in data.get("witnesses", []))
        return cls(data["path"], before, after, witnesses)

    def inverse(self) -> FileReplace:
        return FileReplace(self.path, self.after, self.before)  # witnesses guard the plan, not its undo

    def leftovers(self) -> tuple[str, ...]:
        return (stale_temp_for(self.path),)

    def _read(self) -> bytes | None:
        limit = max(len(self.before), len(self.after)) + 1  # a file larger than both is neither
        try:
            with open(self.path, "rb") as handle:
                return handle.read(limit)
        except FileNotFoundError:
            return None

    def probe(self, io: IOContext | None = None) -> Probe:
        data = self._read()
        if data is None:
            return Probe("other", f"{self.path} does not exist", blocking=True)
        observed = {"size": len(data)}
        if data == self.before:
            return Probe("before", observed=observed)
        if data == self.after:
            return Probe("after", observed=observed)
        return Probe("other", f"{self.path} holds neither the old nor the new content (changed since)",
                     blocking=True, observed=observed)

    @classmethod
    def apply_step(cls, effects: Sequence[Effect], io: IOContext | None, hook: StepHook | None) -> None:
        for effect in effects:
            assert isinstance(effect, FileReplace)
            effect.apply(io)

    def apply(self, io: IOContext | None = None) -> None:
        """Check the file and every witness, then replace the file atomically, mode and mtime kept."""
        if os.path.islink(self.path):
            raise CasFailed(f"{self.path} is a symlink")
        st = os.stat(self.path)
        if self._read() != self.before:
            raise CasFailed(f"{self.path} is not as planned ({st.st_size} bytes; expected {len(self.before)})")
        for witness in self.witnesses:
            problem = witness.check()
            if problem:
                raise CasFailed(problem)
        replace_contents(self.path, self.after, st, io)
