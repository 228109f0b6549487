"""Helpers for tests that take real bundles apart and put them back together: the parts of an
exported bundle, a manifest resealed (every part's sha256 and size recomputed, so only the
import's own checks stand between a changed bundle and the disk), and snapshots of folder trees."""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import orjson

from operations.audit import run_audit
from operations.bundle import collect, write
from operations.home import discover
from operations.repair.selection import ThreadFilter

Target = TypeVar("Target", Path, BinaryIO)
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


def members(bundle: Path | BinaryIO) -> list[Member]:
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
    for thread in _list(manifest.get("threads")):
        for f in _list(thread.get("files")) if isinstance(thread, dict) else []:
            data = parts.get(f"threads/{thread.get('id')}/files/{f.get('name')}") if isinstance(f, dict) else None
            if data is not None:
                f["size"] = len(data)
    return manifest


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def write_zip(path: Target, entries: list[Member], compression: int = zipfile.ZIP_DEFLATED) -> Target:
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


def tree(root: Path, skip: tuple[Path, ...] = (), *, digests: bool = True) -> dict[str, tuple[Any, ...]]:
    """Every entry under `root` (files, folders, links) and `root` itself, with its kind, mtime and
    content digest: a file created and removed again still shows in its folder's mtime. Without
    `digests`, a file's size, inode and ctime stand for its content (any write changes its ctime,
    and no program can set a ctime back)."""
    out: dict[str, tuple[Any, ...]] = {}
    if not root.exists():
        return out
    skipped = {str(p) for p in skip}
    out["."] = ("dir", root.stat().st_mtime_ns)
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skipped]
        for name in dirs + files:
            path = os.path.join(folder, name)
            if path in skipped:
                continue
            st = os.lstat(path)
            kind = ("file" if stat.S_ISREG(st.st_mode) else "link" if stat.S_ISLNK(st.st_mode)
                    else "dir" if stat.S_ISDIR(st.st_mode) else "other")
            if kind == "file" and digests:
                with open(path, "rb") as handle:
                    content: Any = hashlib.sha256(handle.read()).hexdigest()
            elif kind == "link":
                content = os.readlink(path)
            else:
                content = (st.st_size, st.st_ino, st.st_ctime_ns)
            out[os.path.relpath(path, root)] = (kind, st.st_mtime_ns, content)
    return out


@dataclass
class RawMember:
    """A member given as its raw deflate stream, with the CRC and size its headers claim."""

    name: str
    deflated: bytes
    crc: int
    size: int


def deflated(data: bytes) -> RawMember:
    return RawMember("", _deflate(data, zlib.Z_FINISH), zlib.crc32(data), len(data))


def _deflate(data: bytes, mode: int) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(mode)


def zeros_bomb(head: bytes, mib: int) -> tuple[RawMember, str]:
    """`head` followed by `mib` MiB of zeros, as one deflate stream built from a single
    compressed MiB repeated (a full flush makes each block stand alone), so a 1 GiB member takes
    a moment to build; and the sha256 of what it inflates to."""
    zero = bytes(1 << 20)
    block = _deflate(zero, zlib.Z_FULL_FLUSH)
    stream = _deflate(head, zlib.Z_FULL_FLUSH) + block * mib + zlib.compressobj(6, zlib.DEFLATED, -15).flush()
    crc, digest = zlib.crc32(head), hashlib.sha256(head)
    for _ in range(mib):
        crc = zlib.crc32(zero, crc)
        digest.update(zero)
    return RawMember("", stream, crc, len(head) + mib * (1 << 20)), digest.hexdigest()


def write_raw_zip(path: Path, entries: list[RawMember]) -> Path:
    """A zip written header by header, so a member's headers can claim what a test wants."""
    body, directory = bytearray(), bytearray()
    for m in entries:
        name = m.name.encode()
        header = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, m.crc, len(m.deflated), m.size,
                             len(name), 0)
        directory += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 0x314, 20, 0, 8, 0, 0x21, m.crc, len(m.deflated),
                                 m.size, len(name), 0, 0, 0, 0, (stat.S_IFREG | 0o644) << 16, len(body)) + name
        body += header + name + m.deflated
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), len(body), 0)
    path.write_bytes(bytes(body + directory + end))
    return path
