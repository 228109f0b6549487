"""Paths as components, the spellings that name one folder, and paths compared that way.

Matching is by components, never by raw string prefix (`/a/proj` does not match
`/a/project`). Equivalences, as rules:
* a trailing separator and repeated separators do not matter;
* `\\\\?\\C:\\x` is `C:\\x`, `\\\\?\\UNC\\s\\share\\x` is `\\\\s\\share\\x`;
* a drive letter's case does not matter, and `/` or `\\` may separate;
* `\\\\wsl$\\Distro\\x` is `\\\\wsl.localhost\\Distro\\x`;
* with style `windows` or `wsl`, `/mnt/c/x` is `C:\\x` (WSL's mount of the drive).
"""

from __future__ import annotations

import functools
import ntpath
import posixpath
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

STYLES = ("posix", "windows", "wsl")
_DRIVE = re.compile(r"^([A-Za-z]):(?:[\\/]|$)")
_MNT = re.compile(r"^/mnt/([A-Za-z])(?:/|$)")


@dataclass(frozen=True)
class PathKey:
    """A path for comparison: on drives and shares (Windows) components compare casefolded."""

    kind: str  # posix, drive, unc, wsl, relative
    root: str
    parts: tuple[str, ...]
    spelled: tuple[str, ...] = field(default=(), compare=False, hash=False)

    def startswith(self, prefix: PathKey) -> bool:
        return (self.kind, self.root) == (prefix.kind, prefix.root) and self.parts[: len(prefix.parts)] == prefix.parts


def _split(rest: str) -> tuple[str, ...]:
    return tuple(p for p in re.split(r"[\\/]+", rest) if p)


def _make(kind: str, root: str, parts: tuple[str, ...]) -> PathKey:
    folded = tuple(p.casefold() for p in parts) if kind in ("drive", "unc") else parts
    return PathKey(kind, root, folded, parts)


def key(path: str, style: str = "posix") -> PathKey:
    text = path.strip()
    if text.startswith("\\\\?\\UNC\\"):
        text = "\\\\" + text[len("\\\\?\\UNC\\") :]
    elif text.startswith("\\\\?\\") or text.startswith("//?/"):
        text = text[4:]
    drive = _DRIVE.match(text)
    if drive:
        return _make("drive", drive.group(1).lower(), _split(text[2:]))
    if text.startswith(("\\\\", "//")):
        parts = _split(text)
        if len(parts) >= 2 and parts[0].lower() in ("wsl$", "wsl.localhost"):
            return _make("wsl", parts[1].lower(), parts[2:])
        if len(parts) >= 2:
            return _make("unc", f"{parts[0].lower()}\\{parts[1].lower()}", parts[2:])
        return _make("unc", "", parts)
    if style in ("windows", "wsl"):
        mnt = _MNT.match(text)
        if mnt:
            return _make("drive", mnt.group(1).lower(), _split(text[6:]))
    if text.startswith("/"):
        return _make("posix", "", _split(text))
    return _make("relative", "", _split(text))


def is_windows_spelling(path: str) -> bool:
    return bool(_DRIVE.match(path)) or path.startswith("\\\\")


def rewrite(path: str, source: str, target: str, style: str = "posix") -> str | None:
    """`path` with its `source` prefix replaced by `target`, or None when it is not under `source`."""
    here, prefix = key(path, style), key(source, style)
    if not here.startswith(prefix):
        return None
    rest = here.spelled[len(prefix.parts) :]
    sep = "\\" if is_windows_spelling(target) else "/"
    base = target.rstrip("\\/") or target[:1]
    if re.fullmatch(r"[A-Za-z]:", base):
        base += "\\"
    if not rest:
        return base
    return base + ("" if base.endswith(sep) else sep) + sep.join(rest)


def spellings(paths: list[str]) -> dict[PathKey, list[str]]:
    """Folders that appear under more than one spelling."""
    groups: dict[PathKey, set[str]] = {}
    for p in paths:
        groups.setdefault(key(p, "wsl"), set()).add(p)
    return {k: sorted(v) for k, v in groups.items() if len(v) > 1}


ROLLOUT_FOLDERS = ("/sessions/", "/archived_sessions/", "\\sessions\\", "\\archived_sessions\\")
# How this machine's paths compare: Windows paths by components, casefolded, `\\?\` ignored
PATH_STYLE = "windows" if sys.platform == "win32" else "posix"


def home_of_rollout(rollout_path: str) -> str | None:
    """The Codex home a rollout path lies in: the part before sessions/ or archived_sessions/
    (either separator: rows written by Codex on Windows hold `C:\\Users\\…\\.codex\\sessions\\…`)."""
    at = min((rollout_path.find(m) for m in ROLLOUT_FOLDERS if m in rollout_path), default=-1)
    return rollout_path[:at] if at > 0 else None


def is_inside(path: str, roots: Iterable[str | Path], style: str = PATH_STYLE) -> bool:
    """Whether `path` is one of `roots` or below one, by components (never a string prefix).

    An absolute POSIX path against POSIX roots compares as normalized text up to a separator,
    which is the same test, without building component keys (the audit asks once per row)."""
    return inside_of(roots, style)(path)


def inside_of(roots: Iterable[str | Path], style: str = PATH_STYLE) -> Callable[[str], bool]:
    """`is_inside` with the roots fixed once, for a test asked once per row."""
    texts = tuple(str(root) for root in roots)
    prefixes = _posix_prefixes(texts) if style == "posix" else None
    exact = frozenset(t for t, _ in prefixes or ())
    below = tuple(prefix for _, prefix in prefixes or ())

    def inside(path: str) -> bool:
        if prefixes is not None and path.startswith("/") and not path.startswith("//"):
            text = posixpath.normpath(path) if ("/." in path or "//" in path or path.endswith("/")) else path
            return text in exact or text.startswith(below)
        here = key(posixpath.abspath(path) if style == "posix" else ntpath.normpath(path), style)
        return any(here.startswith(_root_key(t, style)) for t in texts)

    return inside


@functools.lru_cache(maxsize=64)
def _posix_prefixes(texts: tuple[str, ...]) -> tuple[tuple[str, str], ...] | None:
    """(root, root + "/") for roots that are normalized absolute POSIX paths, else None: worked
    out once per set of roots, not once per row."""
    if all(t.startswith("/") and not t.startswith("//") and posixpath.normpath(t) == t for t in texts):
        return tuple((t, t.rstrip("/") + "/") for t in texts)
    return None


@functools.lru_cache(maxsize=256)
def _root_key(root: str, style: str) -> PathKey:
    return key(root, style)


def same_path(a: str, b: str, style: str = PATH_STYLE) -> bool:
    return key(a, style) == key(b, style)


def spelled_like(new: str, model: str, style: str = PATH_STYLE) -> str:
    """`new` written in the spelling of the row it replaces (`model`): when both lie in the same
    home, the home part is taken from the row exactly (`\\\\?\\C:\\…`, drive and folder case, its
    separator), so a row is never respelled beyond what had to change."""
    old_home = home_of_rollout(model)
    if old_home is None:
        return new
    prefix = key(old_home, style)
    here = key(new, style)
    if not here.startswith(prefix):
        return new
    sep = "\\" if is_windows_spelling(old_home) or old_home.startswith("\\\\") else "/"
    rest = here.spelled[len(prefix.parts):]
    return old_home.rstrip("\\/") + sep + sep.join(rest)
