"""`file_move`: rename a file, never over an existing one."""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from journal import faults
from journal.durability import IOContext
from journal.effects.base import Effect, Probe, StepHook, register
from journal.errors import CasFailed
from journal.fileio import file_digest
from journal.platform import fsync_dir, with_retry

DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.EROFS, getattr(errno, "EDQUOT", errno.ENOSPC)})


@register
@dataclass(frozen=True)
class FileMove(Effect):
    """Rename `src` to `dst` (never over an existing file).

    `sha256`, `size` and `mtime_ns` describe the content being moved; `after_mtime_ns`,
    when set, is the mtime the file gets once moved (the caller's choice: some programs touch a file
    they bring back).
    """

    kind: ClassVar[str] = "file_move"
    src: str
    dst: str
    sha256: str
    size: int
    mtime_ns: int
    after_mtime_ns: int | None = None

    def targets(self) -> tuple[str, ...]:
        return (f"file:{self.src}", f"file:{self.dst}")

    @classmethod
    def targets_in_json(cls, data: dict[str, Any]) -> tuple[str, ...]:
        return (f"file:{data['src']}", f"file:{data['dst']}")

    def paths(self) -> tuple[str, ...]:
        return (self.src, self.dst)

    def describe(self) -> str:
        return f"move {self.src} -> {self.dst}"

    def render(self) -> list[str]:
        touch = "" if self.after_mtime_ns is None else " (its mtime set on arrival)"
        return [f"move {self.src}", f"  -> {self.dst}{touch}", f"  sha256 {self.sha256[:16]}…  {self.size} bytes"]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "src": self.src, "dst": self.dst, "sha256": self.sha256,
                               "size": self.size, "mtime_ns": self.mtime_ns}
        if self.after_mtime_ns is not None:
            out["after_mtime_ns"] = self.after_mtime_ns
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileMove:
        return cls(data["src"], data["dst"], data["sha256"], int(data["size"]), int(data["mtime_ns"]),
                   data.get("after_mtime_ns"))

    def inverse(self) -> FileMove:
        at_dst = self.after_mtime_ns if self.after_mtime_ns is not None else self.mtime_ns
        restore = self.mtime_ns if self.after_mtime_ns is not None else None
        return FileMove(self.dst, self.src, self.sha256, self.size, at_dst, restore)

    def probe(self, io: IOContext | None = None) -> Probe:
        src_there = os.path.lexists(self.src)
        dst_there = os.path.lexists(self.dst)
        if src_there and dst_there:
            if _same_file(self.src, self.dst):
                return Probe("mid", "both names link the same file (a move was interrupted)")
            return Probe("other", f"both {self.src} and {self.dst} exist", blocking=True)
        if not src_there and not dst_there:
            return Probe("other", f"neither {self.src} nor {self.dst} exists", blocking=True)
        here = self.src if src_there else self.dst
        if os.path.islink(here):
            return Probe("other", f"{here} is a symlink", blocking=True)
        try:
            sha, size = file_digest(here)
            observed = {"path": here, "sha256": sha, "size": size, "mtime_ns": os.stat(here).st_mtime_ns}
        except OSError as exc:  # a folder, a FIFO, a device, no permission: never read, never moved
            return Probe("other", f"cannot read {here}: {exc}", blocking=True)
        if sha == self.sha256:
            if self._touches and observed["mtime_ns"] == (self.after_mtime_ns if src_there else self.mtime_ns):
                return Probe("mid", f"{here} was moved but its mtime not yet set (a move was interrupted)",
                             observed=observed)
            return Probe("before" if src_there else "after", observed=observed)
        if src_there:
            return Probe("other", f"{here} changed (sha256 {sha[:12]}…)", observed=observed)
        what = (f"{self.size} -> {size} bytes" if size != self.size
                else f"same size, content differs: sha256 {self.sha256[:12]}… -> {sha[:12]}…")
        return Probe("after_drift", f"{here} changed since the move ({what})", observed=observed)

    def rebased_inverse(self, seen: Probe) -> Effect:
        inverse = self.inverse()
        obs = seen.observed
        if obs.get("sha256") and obs["sha256"] != inverse.sha256:
            return FileMove(inverse.src, inverse.dst, obs["sha256"], obs["size"], obs["mtime_ns"], None)
        return inverse

    @classmethod
    def apply_step(cls, effects: Sequence[Effect], io: IOContext | None, hook: StepHook | None) -> None:
        for effect in effects:
            assert isinstance(effect, FileMove)
            effect.apply(hook, io)

    def apply(self, hook: StepHook | None = None, io: IOContext | None = None) -> None:
        """No-clobber rename: link then unlink, so an existing destination is never replaced."""
        seen = self.probe()
        if seen.state != "before":
            raise CasFailed(f"cannot move: {seen.detail or seen.state}")
        dst_dir = os.path.dirname(self.dst)
        faults.point("mkdir", dst_dir)
        os.makedirs(dst_dir, exist_ok=True)
        try:
            faults.point("link", self.dst)
            os.link(self.src, self.dst)
            linked = True
        except FileExistsError as exc:
            raise CasFailed(f"{self.dst} already exists") from exc
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                raise CasFailed(f"{self.src} and {self.dst} are on different file systems") from exc
            if exc.errno in DISK_ERRNOS:
                raise  # no room or a failing disk: a rename would meet the same
            linked = False  # file systems without hard links: check, then rename under our lock
        if linked:
            if hook:
                hook("move-linked")
            faults.point("unlink", self.src)
            with_retry(lambda: os.unlink(self.src), self.src, "remove the old name of")
        else:
            if os.path.lexists(self.dst):
                raise CasFailed(f"{self.dst} already exists")
            faults.point("rename", self.src)
            with_retry(lambda: os.rename(self.src, self.dst), self.src, "move")
        self._touch()
        if io is not None:
            io.sync_dir(dst_dir)
            io.sync_dir(os.path.dirname(self.src))
        else:
            for folder in (dst_dir, os.path.dirname(self.src)):
                faults.point("fsync_dir", folder)
                fsync_dir(folder)

    @property
    def _touches(self) -> bool:
        """The move sets another mtime: then a file at `dst` still bearing the old one (or back at
        `src` still bearing the new one) is a move stopped between its rename and its touch."""
        return self.after_mtime_ns is not None and self.after_mtime_ns != self.mtime_ns

    def finish_interrupted(self) -> None:
        """Complete a move a crash stopped: drop the old name when both link the file, move it
        when it is still (or again) at `src`, then set its mtime."""
        if os.path.lexists(self.src):
            if not os.path.lexists(self.dst):
                faults.point("link", self.dst)
                os.link(self.src, self.dst)
            faults.point("unlink", self.src)
            with_retry(lambda: os.unlink(self.src), self.src, "remove the old name of")
        self._touch()
        self._sync_both()

    def rollback_interrupted(self) -> None:
        """Take back a move a crash stopped: drop the new name when both link the file, move it
        back when it is only at `dst`, then give it its mtime from before the move."""
        if os.path.lexists(self.dst):
            if not os.path.lexists(self.src):
                faults.point("link", self.src)
                os.link(self.dst, self.src)
            faults.point("unlink", self.dst)
            with_retry(lambda: os.unlink(self.dst), self.dst, "remove the new name of")
        if self._touches:
            st = os.stat(self.src)
            faults.point("utime", self.src)
            os.utime(self.src, ns=(st.st_atime_ns, self.mtime_ns))
        self._sync_both()

    def _sync_both(self) -> None:
        for folder in sorted({os.path.dirname(self.dst), os.path.dirname(self.src)}):
            faults.point("fsync_dir", folder)
            fsync_dir(folder)

    def _touch(self) -> None:
        if self.after_mtime_ns is not None:
            st = os.stat(self.dst)
            faults.point("utime", self.dst)
            os.utime(self.dst, ns=(st.st_atime_ns, self.after_mtime_ns))


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # a dangling link, no permission
        return False
