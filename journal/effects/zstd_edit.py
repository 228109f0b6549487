"""`zstd_edit`: byte splices inside the lines of a zstd-compressed file, its original bytes kept aside.

A compressed file cannot be spliced in place: its content is decompressed, spliced as
`file_edit` splices a plain file, and compressed again (one frame, `level`), keeping the
file's mode and mtime. Compressing again need not give the original bytes back, so before
the first byte is replaced the original file is kept, byte for byte, at `kept` (a
content-addressed name the caller chooses, e.g. `<store>/<sha256>`): hard-linked when the
file system allows, else copied, and made durable at once. The journal holds only its
size and sha256, never the bytes.

Forward (`restore` false): the file must be exactly the original bytes; they are kept, the
result is compressed and written. Back (`restore` true, the inverse): the file must
decompress to the edited content; the kept bytes (checked against their digest) are put
back. So an undo restores the exact original bytes and mtime; a redo compresses again.
The states a probe reports are those of the decompressed content (`before`, `after`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from journal.durability import IOContext
from journal.effects.base import Effect, Probe, State, StepHook, register
from journal.effects.file_edit import Field, FileEdit, plan_file_edit
from journal.errors import CasFailed
from journal.fileio import file_digest, replace_contents, sha256_hex, stale_temp_for
from journal.platform import fsync_dir, with_retry
from journal.zstdio import DEFAULT_LEVEL, TooLarge, compress, decompress


@register
@dataclass(frozen=True)
class ZstdEdit(FileEdit):
    """Splices in the decompressed lines of `path`; `size_*`/`sha256_*` describe the decompressed
    content. `original_size`/`original_sha256`: the compressed bytes the file held before the
    edit, kept at `kept`."""

    kind: ClassVar[str] = "zstd_edit"
    original_size: int
    original_sha256: str
    kept: str
    restore: bool = False
    level: int = DEFAULT_LEVEL

    def paths(self) -> tuple[str, ...]:
        return (self.path, self.kept)

    def describe(self) -> str:
        return super().describe() + " (compressed)"

    def render(self) -> list[str]:
        _, *rest = super().render()
        how = (f"the original {self.original_size} compressed bytes put back from {self.kept}" if self.restore
               else f"compressed again, the original {self.original_size} bytes kept at {self.kept}")
        return [f"edit {self.path} (compressed; {self.size_before} -> {self.size_after} bytes decompressed): {how}",
                *rest]

    def summary_name(self) -> str:
        return "zstd_edit"

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        out.update({"kind": self.kind, "original": {"size": self.original_size, "sha256": self.original_sha256},
                    "kept": self.kept, "restore": self.restore, "level": self.level})
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ZstdEdit:
        plain = FileEdit.from_json(data)
        return cls(plain.path, plain.size_before, plain.sha256_before, plain.size_after, plain.sha256_after,
                   plain.splices, int(data["original"]["size"]), data["original"]["sha256"], data["kept"],
                   bool(data.get("restore", False)), int(data.get("level", DEFAULT_LEVEL)))

    def inverse(self) -> ZstdEdit:
        return ZstdEdit(self.path, self.size_after, self.sha256_after, self.size_before, self.sha256_before,
                        tuple(s.inverse() for s in self.splices), self.original_size, self.original_sha256,
                        self.kept, not self.restore, self.level)

    @property
    def decompressed_name(self) -> str | None:
        """Where decompressing puts this file's content: `NAME.zst` -> `NAME`, as `zstd -d` does (and
        as a program that appends to a compressed file decompresses it first)."""
        return self.path[: -len(".zst")] if self.path.endswith(".zst") else None

    def rebased_inverse(self, seen: Probe) -> Effect:
        """Forced over a file decompressed (and maybe appended to) since: the inverse is a plain
        `file_edit` of the decompressed file that reverts what this edit wrote and keeps the rest,
        as a forced undo of a plain file does."""
        inverse = self.inverse()
        plain = seen.observed.get("decompressed")
        if seen.state != "after_drift" or not isinstance(plain, str):
            return inverse
        try:
            with open(plain, "rb") as handle:
                data = handle.read()
        except OSError:
            return inverse
        restored = inverse.spliced(data[:self.size_after]) + data[self.size_after:]
        return FileEdit(plain, len(data), sha256_hex(data), len(restored), sha256_hex(restored), inverse.splices)

    def leftovers(self) -> tuple[str, ...]:
        return (stale_temp_for(self.path), stale_temp_for(self.kept))

    def _content(self) -> tuple[bytes, bytes] | None:
        """(the file's bytes, their decompressed content), or None when there is no file."""
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            return None
        return raw, decompress(raw, max(self.size_before, self.size_after))

    def _kept_intact(self) -> bool:
        try:
            return file_digest(self.kept) == (self.original_sha256, self.original_size)
        except OSError:
            return False

    def probe(self, io: IOContext | None = None) -> Probe:
        try:
            found = self._content()
        except TooLarge:
            return Probe("other", f"{self.path} decompresses to more than it held", blocking=True)
        except ValueError as exc:
            return Probe("other", f"{self.path}: {exc}", blocking=True)
        if found is None:
            return self._probe_decompressed()
        raw, data = found
        observed = {"size": len(data), "compressed_size": len(raw)}
        at = self._state_of(data)
        if at is None:
            return Probe("other", f"{self.path} changed since ({len(data)} bytes decompressed)", blocking=True,
                         observed=observed)
        if at == "before" and not self.restore and sha256_hex(raw) != self.original_sha256:
            return Probe("other", f"{self.path} holds the expected content, but not the exact compressed bytes "
                                  "the edit was planned from", blocking=True, observed=observed)
        needs_kept = (at == "before") == self.restore  # the step that puts the kept bytes back
        if needs_kept and not self._kept_intact():
            return Probe("other", f"the original bytes of {self.path} kept at {self.kept} are missing or damaged",
                         blocking=True, observed=observed)
        return Probe(at, observed=observed)

    def _probe_decompressed(self) -> Probe:
        """The file is gone: decompressed since, to the name without `.zst`, and maybe appended to?"""
        plain = self.decompressed_name
        data = None
        if plain is not None and not self.restore:
            try:
                with open(plain, "rb") as handle:
                    data = handle.read()
            except OSError:
                data = None
        if data is None:
            return Probe("other", f"{self.path} does not exist", blocking=True)
        if len(data) >= self.size_after and sha256_hex(data[:self.size_after]) == self.sha256_after:
            grown = len(data) - self.size_after
            appended = f" and grew by {grown} bytes (appended; the appended bytes are kept)" if grown else ""
            return Probe("after_drift", f"{self.path} was decompressed to {plain} since{appended}; a forced undo "
                                        "reverts the edit there", observed={"decompressed": plain, "size": len(data)})
        return Probe("other", f"{self.path} was decompressed to {plain}, which changed since (not only appended to)",
                     blocking=True)

    def _state_of(self, data: bytes) -> State | None:
        if len(data) == self.size_before and sha256_hex(data) == self.sha256_before:
            return "before"
        if len(data) == self.size_after and sha256_hex(data) == self.sha256_after:
            return "after"
        return None

    @classmethod
    def apply_step(cls, effects: Sequence[Effect], io: IOContext | None, hook: StepHook | None) -> None:
        for effect in effects:
            assert isinstance(effect, ZstdEdit)
            effect.apply_zstd(io, hook)

    def apply(self, io: IOContext | None = None) -> None:
        self.apply_zstd(io, None)

    def apply_zstd(self, io: IOContext | None, hook: StepHook | None) -> None:
        """Check the file, keep or fetch the original bytes, and replace the file keeping its mtime."""
        st = os.stat(self.path)
        raw, data = self._checked_content()
        if self.restore:
            result = self._kept_bytes()
            if sha256_hex(decompress(result, self.size_after)) != self.sha256_after:
                raise CasFailed(f"the bytes kept at {self.kept} do not hold what the undo must restore")
        else:
            if sha256_hex(raw) != self.original_sha256:
                raise CasFailed(f"{self.path} is not the compressed file the edit was planned from")
            plain = self.spliced(data)
            if len(plain) != self.size_after or sha256_hex(plain) != self.sha256_after:
                raise CasFailed(f"{self.path}: the edit does not give the recorded result")
            keep_original(self.path, self.kept, self.original_sha256)
            if hook:
                hook("zstd-kept")
            result = compress(plain, self.level)
        replace_contents(self.path, result, st, io)

    def _checked_content(self) -> tuple[bytes, bytes]:
        try:
            found = self._content()
        except ValueError as exc:
            raise CasFailed(f"{self.path}: {exc}") from None
        if found is None:
            raise CasFailed(f"{self.path} does not exist")
        raw, data = found
        if len(data) != self.size_before or sha256_hex(data) != self.sha256_before:
            raise CasFailed(f"{self.path} is not as planned ({len(data)} bytes decompressed; "
                            f"expected {self.size_before})")
        return raw, data

    def _kept_bytes(self) -> bytes:
        try:
            with open(self.kept, "rb") as handle:
                kept = handle.read()
        except OSError as exc:
            raise CasFailed(f"the original bytes of {self.path} kept at {self.kept} cannot be read: {exc}") from None
        if len(kept) != self.original_size or sha256_hex(kept) != self.original_sha256:
            raise CasFailed(f"the original bytes of {self.path} kept at {self.kept} are damaged")
        return kept

    def finish_interrupted(self) -> None:
        """A crash never leaves this effect half done (the file is replaced by one rename): apply it."""
        self.apply_zstd(None, None)


def keep_original(path: str, kept: str, sha256: str) -> None:
    """Make `kept` hold the bytes of `path` (whose digest is `sha256`), durably, before `path` is
    replaced: a hard link (no copy) where the file system allows, else a copy. An existing
    `kept` with those bytes is left as it is (the name is content-addressed)."""
    if os.path.exists(kept):
        if file_digest(kept)[0] == sha256:
            return
        with_retry(lambda: os.unlink(kept), kept, "replace the damaged kept copy")
    folder = os.path.dirname(kept)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    try:
        os.link(path, kept)
    except FileExistsError:
        pass  # kept a moment ago by someone else: checked below like our own
    except OSError:  # no hard links here (another file system, FAT, a policy): a durable copy
        temp = stale_temp_for(kept)
        shutil.copyfile(path, temp)
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        with_retry(lambda: os.replace(temp, kept), kept, "keep")
    if file_digest(kept)[0] != sha256:
        raise CasFailed(f"{path} changed while its original bytes were being kept")
    fsync_dir(folder)


def plan_zstd_edit(path: str, new_lines: dict[int, bytes], data: bytes, original_size: int, original_sha256: str,
                   kept: str, fields: dict[int, tuple[Field, ...]] | None = None,
                   level: int = DEFAULT_LEVEL) -> ZstdEdit:
    """The `zstd_edit` that gives some lines of the compressed `path` new bytes: `data` is its
    decompressed content, `original_*` describe its compressed bytes, `kept` where they will be kept."""
    plain = plan_file_edit(path, new_lines, data, fields)
    return ZstdEdit(path, plain.size_before, plain.sha256_before, plain.size_after, plain.sha256_after,
                    plain.splices, original_size, original_sha256, kept, False, level)
