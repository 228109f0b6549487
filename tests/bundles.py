"""Helpers for tests that take real bundles apart and put them back together: the parts of an
exported bundle, a manifest resealed (every part's sha256 and size recomputed, so only the
import's own checks stand between a changed bundle and the disk), and snapshots of folder trees."""

from __future__ import annotations

import hashlib
import os
import stat
import warnings
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from operations.audit import run_audit
from operations.bundle import collect, write
from operations.home import discover
from operations.repair.common import ThreadFilter

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # the generator's clock


def export(home: Path, out: Path) -> Path:
    """A real bundle of every thread of `home`, made by the library as `export` makes it."""
    codex_home = discover(home)
    write(collect(run_audit(codex_home, now=NOW), ThreadFilter(), codex_home, digests=False), out)
    return out


@dataclass
class Member:
    name: str
    data: bytes
    mode: int = stat.S_IFREG | 0o644


def members(bundle: Path) -> list[Member]:
    with zipfile.ZipFile(bundle) as archive:
        return [Member(info.filename, archive.read(info), info.external_attr >> 16) for info in archive.infolist()]


def parts_of(bundle: Path) -> tuple[Any, dict[str, bytes]]:
    """(manifest, {part name: bytes}) of a bundle."""
    found = {m.name: m.data for m in members(bundle)}
    return orjson.loads(found.pop("manifest.json")), found


def reseal(manifest: Any, parts: dict[str, bytes]) -> Any:
    """The manifest with every part's sha256 and size declared as they are now (parts that are
    no longer there are dropped, new ones added), and each file entry's size to match."""
    if not isinstance(manifest, dict):
        return manifest
    manifest["parts"] = {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                         for name, data in sorted(parts.items())}
    for thread in manifest.get("threads", []) if isinstance(manifest.get("threads"), list) else []:
        for f in thread.get("files", []) if isinstance(thread, dict) else []:
            data = parts.get(f"threads/{thread.get('id')}/files/{f.get('name')}") if isinstance(f, dict) else None
            if data is not None:
                f["size"] = len(data)
    return manifest


def write_zip(path: Path, entries: list[Member], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a duplicate name is what some tests want
        with zipfile.ZipFile(path, "w", compression=compression) as archive:
            for m in entries:
                info = zipfile.ZipInfo(m.name, (2026, 11, 24, 12, 0, 0))
                info.compress_type = compression
                info.external_attr = m.mode << 16
                archive.writestr(info, m.data)
    return path


def sealed(path: Path, manifest: Any, parts: dict[str, bytes], extra: list[Member] | None = None) -> Path:
    """A bundle of these parts with the manifest resealed over them."""
    body = orjson.dumps(reseal(manifest, parts))
    return write_zip(path, [Member("manifest.json", body), *(Member(n, d) for n, d in parts.items()),
                            *(extra or [])])


def tree(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple[str, int, str]]:
    """Every entry under `root` (files, folders, links) and `root` itself, with its kind, mtime and
    content digest: a file created and removed again still shows in its folder's mtime."""
    out: dict[str, tuple[str, int, str]] = {}
    if not root.exists():
        return out
    skipped = {str(p) for p in skip}
    out["."] = ("dir", root.stat().st_mtime_ns, "")
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skipped]
        for name in dirs + files:
            path = os.path.join(folder, name)
            if path in skipped:
                continue
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                out[os.path.relpath(path, root)] = ("file", st.st_mtime_ns, digest)
            else:
                kind = "link" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "other"
                out[os.path.relpath(path, root)] = (kind, st.st_mtime_ns, os.readlink(path) if kind == "link" else "")
    return out
