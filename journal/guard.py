"""Where writes may go: inside the allowed roots, never through a symlinked file."""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from journal.errors import OutsideAllowedRoots


@functools.lru_cache(maxsize=4096)
def cached_realpath(folder: str) -> str:
    """realpath of a folder, cached: plans and guards ask for the same few folders many times."""
    return os.path.realpath(folder)


def within_roots(path: str, roots: Iterable[str]) -> bool:
    """Whether `path`, with its folder's symlinks resolved, is one of `roots` (real paths) or below one."""
    absolute = os.path.abspath(path)
    real = os.path.join(cached_realpath(os.path.dirname(absolute)), os.path.basename(absolute))
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def symlink_in(path: str, roots: Iterable[str | Path]) -> str | None:
    """The first symlink on the way down from the root that holds `path` to `path` itself (the
    file included), or None: a root may itself be a symlink (a home on another disk), but what
    lies below it is judged. None too for a path under no root, or whose rest does not exist."""
    absolute = os.path.abspath(path)
    for root in roots:
        for spelled in dict.fromkeys((os.path.abspath(str(root)), cached_realpath(str(root)))):
            base = spelled.rstrip(os.sep) or os.sep
            if absolute != base and not absolute.startswith(base.rstrip(os.sep) + os.sep):
                continue
            current = base
            for part in absolute[len(base):].split(os.sep):
                if not part:
                    continue
                current = os.path.join(current, part)
                try:
                    if stat.S_ISLNK(os.lstat(current).st_mode):
                        return current
                except OSError:
                    return None
            return None
    return None


class PathGuard:
    """Writes are allowed only inside these roots, and never through a symlinked file."""

    def __init__(self, roots: Iterable[str | Path]) -> None:
        self.roots = [os.path.realpath(r) for r in roots]
        self._inside: set[str] = set()  # folders already found inside (a run asks about a few, often)

    def check(self, path: str) -> None:
        if os.path.islink(path):
            raise OutsideAllowedRoots(f"{path} is a symlink; refusing to write through it")
        folder = os.path.dirname(os.path.abspath(path))
        if folder in self._inside:
            return
        if not within_roots(path, self.roots):
            raise OutsideAllowedRoots(f"{path} is outside the allowed roots {self.roots}")
        self._inside.add(folder)
