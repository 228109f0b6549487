"""Install and remove the codex-sessions skill in a Codex home, leaving no trace of ourselves.

Codex finds a user's skills in `<codex-home>/skills/<name>/SKILL.md` (with an optional
`agents/openai.yaml`, as the skills it ships under `skills/.system/`). Install writes the
files shipped in this package there, and a manifest beside them (`.codex-sessions-skill.json`)
with the sha256 of each file it wrote, the folders it created (and the mtime of each folder's
parent before and after), and the files `--force` set aside. Uninstall removes exactly what
the manifest says and still holds the bytes written: a file the user changed or added stays,
and so does its folder; a folder's parent gets its mtime back when nothing else touched it,
so the home is as it was, byte for byte.

Codex may run meanwhile: it only reads skill folders (and re-reads them when a new session
starts or `skills/list` asks with `forceReload`), so writing one is harmless; none of Codex's
own state is touched.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from journal.errors import OutsideAllowedRoots
from journal.guard import within_roots
from operations.errors import SkillRefused
from operations.locations import require_home

SKILL_NAME = "codex-sessions"
MANIFEST = ".codex-sessions-skill.json"
SET_ASIDE = ".before-codex-sessions"  # suffix of a file --force replaced, put back by uninstall
MAX_MANIFEST = 1 << 20


@dataclass(frozen=True, slots=True)
class SkillFile:
    rel: str  # POSIX path inside the skill folder
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True)
class SkillResult:
    action: str  # installed, updated, unchanged, uninstalled, not_installed
    skill_dir: str
    written: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    set_aside: tuple[str, ...] = ()  # files --force replaced, kept as <file>.before-codex-sessions
    restored: tuple[str, ...] = ()  # files uninstall put back from there
    kept: tuple[str, ...] = ()  # files left in place: changed by the user since install, or not ours
    folder_kept: bool = False


@dataclass
class Manifest:
    files: dict[str, str] = field(default_factory=dict)  # rel -> sha256 written
    set_aside: dict[str, str] = field(default_factory=dict)  # rel -> rel of the file it replaced, set aside
    created: list[dict[str, Any]] = field(default_factory=list)  # folders made: path (home-relative), parent mtimes

    def to_bytes(self) -> bytes:
        data = {"tool": "codex-sessions", "skill": SKILL_NAME, "version": 1, "files": self.files,
                "set_aside": self.set_aside, "created_folders": self.created}
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def shipped_files() -> tuple[SkillFile, ...]:
    """The skill's text, as shipped in this package (package data), in a stable order."""
    root = resources.files("operations.skill").joinpath("files", SKILL_NAME)
    found: list[SkillFile] = []

    def walk(node: Traversable, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, rel + "/")
            elif child.is_file():
                found.append(SkillFile(rel, child.read_bytes()))

    walk(root, "")
    return tuple(found)


def skill_dir(codex_home: Path) -> Path:
    return codex_home / "skills" / SKILL_NAME


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _check_inside(codex_home: Path, path: Path) -> None:
    """Every path we write or remove lies in `<codex-home>/skills/`, reached through no symlink."""
    root = os.path.join(os.path.realpath(codex_home), "skills")
    current = path
    while True:
        if current.is_symlink():
            raise OutsideAllowedRoots(f"{current} is a symlink; the skill is written only inside {root}, "
                                      "through no symlink")
        if current == codex_home / "skills" or current == codex_home or current.parent == current:
            break
        current = current.parent
    if not within_roots(str(path), [root]):
        raise OutsideAllowedRoots(f"{path} is outside {root}; the skill is written only there")


def _safe_rel(rel: Any) -> str:
    """A manifest's path, checked: relative, no `..`, POSIX spelled (a manifest is untrusted input)."""
    if not isinstance(rel, str) or not rel or len(rel) > 512:
        raise SkillRefused(f"the skill manifest names a path that is not valid: {rel!r}")
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or "\\" in rel or ":" in rel or rel.startswith("~"):
        raise SkillRefused(f"the skill manifest names a path outside the skill folder: {rel!r}")
    return rel


def read_manifest(folder: Path) -> Manifest | None:
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_MANIFEST + 1)
        data = orjson.loads(raw) if len(raw) <= MAX_MANIFEST else None
    except (OSError, orjson.JSONDecodeError):
        data = None
    if not isinstance(data, dict) or data.get("tool") != "codex-sessions" or data.get("skill") != SKILL_NAME \
            or not isinstance(data.get("files"), dict) or not isinstance(data.get("set_aside", {}), dict) \
            or not isinstance(data.get("created_folders", []), list):
        raise SkillRefused(f"{path} is not a manifest this tool wrote; nothing was changed (remove the folder "
                           "yourself if you no longer want it)")
    files = {_safe_rel(k): str(v) for k, v in data["files"].items()}
    set_aside = {_safe_rel(k): _safe_rel(v) for k, v in data.get("set_aside", {}).items()}
    created = []
    for item in data.get("created_folders", []):
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise SkillRefused(f"{path}: a created folder entry is not valid")
        _safe_rel(item["path"])
        created.append({"path": item["path"], "parent_mtime_ns_before": item.get("parent_mtime_ns_before"),
                        "parent_mtime_ns_after": item.get("parent_mtime_ns_after")})
    return Manifest(files, set_aside, created)


def _write_file(path: Path, data: bytes) -> None:
    """Whole or not at all: a temporary file beside it, then one rename."""
    temp = path.with_name(f".{path.name}.tmp-codex-sessions")
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def _make_folders(codex_home: Path, folder: Path, manifest: Manifest) -> None:
    """Create `folder` and its missing parents, each recorded with its parent's mtime before and after."""
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        _check_inside(codex_home, path)
        before = path.parent.stat().st_mtime_ns
        path.mkdir()
        after = path.parent.stat().st_mtime_ns
        manifest.created.append({"path": path.relative_to(codex_home).as_posix(), "parent_mtime_ns_before": before,
                                 "parent_mtime_ns_after": after})


def install(codex_home: Path, force: bool = False, files: tuple[SkillFile, ...] | None = None) -> SkillResult:
    """Write the skill into `<codex-home>/skills/codex-sessions/`; a second install changes nothing."""
    require_home(codex_home)
    files = files if files is not None else shipped_files()
    folder = skill_dir(codex_home)
    for path in (codex_home / "skills", folder, *(folder / f.rel for f in files), folder / MANIFEST):
        _check_inside(codex_home, path)
    if folder.exists() and not folder.is_dir():
        raise SkillRefused(f"{folder} is a file, not a skill folder; nothing was changed")
    old = read_manifest(folder) if folder.is_dir() else None
    ours = old.files if old else {}
    # What is there now, file by file: ours as written, absent, or something else
    blockers = []
    for f in files:
        now = _digest(folder / f.rel)
        if now is not None and now != f.sha256 and now != ours.get(f.rel):
            blockers.append(f.rel)
        if (folder / f.rel).exists() and not (folder / f.rel).is_file():
            raise SkillRefused(f"{folder / f.rel} is not a file; nothing was changed")
    if folder.is_dir() and old is None and not force:
        raise SkillRefused(f"{folder} holds a skill that codex-sessions did not write; nothing was changed. "
                           "Use --force to replace its files (each one is kept beside as "
                           f"<file>{SET_ASIDE}, and uninstall puts it back)", details={"changed": blockers})
    if blockers and not force:
        raise SkillRefused(f"{', '.join(blockers)} in {folder} changed since codex-sessions wrote it; nothing was "
                           f"changed. Use --force to replace it (it is kept as <file>{SET_ASIDE})",
                           details={"changed": blockers})
    if old is not None and all(_digest(folder / f.rel) == f.sha256 for f in files) \
            and set(ours) == {f.rel for f in files}:
        return SkillResult("unchanged", str(folder))
    manifest = Manifest(dict(ours), dict(old.set_aside) if old else {}, list(old.created) if old else [])
    written, set_aside = [], []
    for f in files:
        target = folder / f.rel
        _make_folders(codex_home, target.parent, manifest)
        current = _digest(target)
        if current == f.sha256:
            manifest.files[f.rel] = f.sha256
            continue
        if current is not None and current != ours.get(f.rel):  # not ours: set aside, never lost
            aside = target.with_name(target.name + SET_ASIDE)
            if aside.exists():
                raise SkillRefused(f"{aside} already exists; move it away first (nothing more was changed)")
            os.rename(target, aside)
            manifest.set_aside[f.rel] = f"{f.rel}{SET_ASIDE}"
            set_aside.append(f.rel)
        _write_file(target, f.data)
        manifest.files[f.rel] = f.sha256
        written.append(f.rel)
    for rel in sorted(set(ours) - {f.rel for f in files}):  # shipped before, no longer: removed if untouched
        if _digest(folder / rel) == ours[rel]:
            (folder / rel).unlink()
        manifest.files.pop(rel, None)
    _write_file(folder / MANIFEST, manifest.to_bytes())
    return SkillResult("updated" if old else "installed", str(folder), tuple(written), set_aside=tuple(set_aside))


def uninstall(codex_home: Path) -> SkillResult:
    """Remove what install wrote and nothing else; put back what --force set aside."""
    require_home(codex_home)
    folder = skill_dir(codex_home)
    _check_inside(codex_home, folder)
    if not folder.exists():
        return SkillResult("not_installed", str(folder))
    manifest = read_manifest(folder) if folder.is_dir() else None
    if manifest is None:
        raise SkillRefused(f"{folder} was not written by codex-sessions (it has no {MANIFEST}); nothing was removed")
    for rel in (*manifest.files, *manifest.set_aside.values(), *(i["path"] for i in manifest.created)):
        _check_inside(codex_home, folder / rel if rel in manifest.files or rel in manifest.set_aside.values()
                      else codex_home / rel)
    removed, kept, restored = [], [], []
    for rel, sha in sorted(manifest.files.items()):
        path = folder / rel
        if _digest(path) == sha:
            path.unlink()
            removed.append(rel)
        elif path.exists():
            kept.append(rel)
    for rel, aside_rel in sorted(manifest.set_aside.items()):
        aside, path = folder / aside_rel, folder / rel
        if aside.is_file() and not path.exists():
            os.rename(aside, path)
            restored.append(rel)
    (folder / MANIFEST).unlink()
    for item in reversed(manifest.created):
        _remove_folder(codex_home, item)
    remaining = folder.exists()
    if remaining:
        kept += sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
                       and p.relative_to(folder).as_posix() not in kept)
    return SkillResult("uninstalled", str(folder), removed=tuple(removed), restored=tuple(restored),
                       kept=tuple(kept), folder_kept=remaining)


def _remove_folder(codex_home: Path, item: dict[str, Any]) -> None:
    """An empty folder we created goes; its parent gets back the mtime it had before, unless
    something else changed the parent since."""
    path = codex_home / item["path"]
    _check_inside(codex_home, path)
    if not path.is_dir() or path.is_symlink() or any(path.iterdir()):
        return
    parent = path.parent
    touched = parent.stat().st_mtime_ns
    path.rmdir()
    before, after = item.get("parent_mtime_ns_before"), item.get("parent_mtime_ns_after")
    if isinstance(before, int) and touched == after:
        os.utime(parent, ns=(parent.stat().st_atime_ns, before))
