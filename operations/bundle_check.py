"""Reading a bundle, which is untrusted input: every byte is checked before anything is written.

A bundle is trusted for nothing. Before the import plans, this module has: bounded the zip's
central directory; refused any member that is not a plain regular file listed by the
manifest (no symlinks, folders, duplicates, encrypted or exotic compression, no name that
could leave its folder); checked the manifest against a strict schema (types, required
keys, no unknown keys, no unknown part kinds); streamed every part in chunks, stopping at
its declared size, hashing as it goes; and checked every row, history and index part and
every rollout's first line against `bundle_rules.py`. Memory is bounded by the limits
below, whatever the bundle says. Any failure is one `BundleRefused` naming the part and the
rule (`details`: {"part", "rule"}).

The rollout bytes are not kept: each `BundledFile` reads its member again when the import
needs it, checked against the same size and sha256.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import zstandard

from journal.codec import sql_from_json
from journal.errors import NotFound
from operations.bundle import FORMAT, Bundle, BundledFile, BundledThread
from operations.bundle_rules import (
    FIRST_LINE_LIMIT,
    INT64,
    Problem,
    file_name_problem,
    first_line_problem,
    history_problem,
    index_problem,
    row_problem,
    thread_id_problem,
    unsafe_name_problem,
)
from operations.errors import BundleRefused

MANIFEST = "manifest.json"
READABLE_VERSIONS = (1, 2)
MAX_MANIFEST = 64 << 20  # bytes
MAX_JSON_PART = 64 << 20  # a row, history or index part
MAX_MEMBERS = 250_000  # about 60,000 threads
MAX_CENTRAL_DIRECTORY = 64 << 20  # bytes: zipfile reads all of it before anything else
MAX_ZSTD_WINDOW = 32 << 20  # Codex's zstd level uses a few MB
READ_CHUNK = 1 << 16
SHA256_RE = re.compile(r"[0-9a-f]{64}")
JSON_PARTS = ("row.json", "history.json", "index.json")
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError,
              struct.error, OverflowError, zstandard.ZstdError)


def refusal(bundle: Path, part: str, rule: str, reason: str) -> BundleRefused:
    return BundleRefused(f"{bundle}: part {part!r} {reason} (rule {rule}); nothing was written",
                         details={"part": part, "rule": rule})


@contextlib.contextmanager
def open_bundle(path: Path) -> Iterator[Bundle]:
    """The checked bundle; its rollout parts are read again from the open zip while this lasts."""
    archive = _open_zip(path)
    with archive:
        bundle = _Checker(path, archive).check()
        yield bundle


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise NotFound(f"{path} does not exist") from None
    except OSError as exc:
        raise refusal(path, str(path), "not_a_file", f"cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise refusal(path, str(path), "not_a_file", "is not a regular file")
    try:
        entries, size = _central_directory(path)
        if entries > MAX_MEMBERS:
            raise refusal(path, str(path), "too_many_members", f"has {entries} members (at most {MAX_MEMBERS})")
        if size > MAX_CENTRAL_DIRECTORY:
            raise refusal(path, str(path), "central_directory_too_large",
                          f"has a {size}-byte zip directory (at most {MAX_CENTRAL_DIRECTORY})")
        return zipfile.ZipFile(path)
    except ZIP_ERRORS as exc:
        raise refusal(path, str(path), "not_a_zip", f"is not a readable zip file ({exc})") from None


def _central_directory(path: Path) -> tuple[int, int]:
    """(members, bytes) of the zip's central directory, before zipfile reads all of it and makes
    an object per member: its size from the end records, found as zipfile finds them, and its
    members counted record by record (the end record's own count could lie). (0, 0) when there
    is no end record: zipfile then refuses the file."""
    with open(path, "rb") as handle:
        length = handle.seek(0, os.SEEK_END)
        start = max(0, length - (22 + 0xFFFF))
        handle.seek(start)
        tail = handle.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            return 0, 0
        size: int = struct.unpack_from("<I", tail, at + 12)[0]
        end = start + at  # where the directory ends, as zipfile computes it
        if start + at >= 76:
            handle.seek(start + at - 76)
            record = handle.read(76)  # a zip64 end record, then its locator, right before
            if record[:4] == b"PK\x06\x06" and record[56:60] == b"PK\x06\x07":
                size = struct.unpack_from("<Q", record, 40)[0]
                end -= 76
        if size > MAX_CENTRAL_DIRECTORY:
            return 0, size
        handle.seek(max(0, end - size))
        directory = handle.read(size)
    members, at = 0, 0
    while members <= MAX_MEMBERS and directory[at : at + 4] == b"PK\x01\x02" and at + 46 <= len(directory):
        names, extra, comment = struct.unpack_from("<3H", directory, at + 28)
        at += 46 + names + extra + comment
        members += 1
    return members, size


@dataclass(frozen=True)
class _Part:
    kind: str  # row.json, history.json, index.json, or file
    thread: str
    size: int | None  # declared; None: a version-1 JSON part, bounded by MAX_JSON_PART
    sha256: str


class _Checker:
    """One pass over the bundle: members, manifest, then every part streamed once."""

    def __init__(self, path: Path, archive: zipfile.ZipFile) -> None:
        self.path = path
        self.archive = archive

    def refuse(self, part: str, rule: str, reason: str) -> BundleRefused:
        return refusal(self.path, part, rule, reason)

    def check(self) -> Bundle:
        members = self._members()
        if MANIFEST not in members:
            raise self.refuse(MANIFEST, "manifest_missing", "is missing: this is not a codex-sessions bundle")
        manifest = self._manifest(members[MANIFEST])
        parts = self._parts(manifest)
        for name in members:
            if name != MANIFEST and name not in parts:
                raise self.refuse(name, "unlisted_member", "is in the zip but not listed by the manifest")
        for name in parts:
            if name not in members:
                raise self.refuse(name, "missing_part", "is listed by the manifest but not in the zip")
        entries = {t["id"]: t for t in manifest["threads"]}
        loaded: dict[str, dict[str, Any]] = {tid: {} for tid in entries}
        files: dict[str, dict[str, BundledFile]] = {tid: {} for tid in entries}
        for name, part in sorted(parts.items(), key=lambda item: members[item[0]].header_offset):
            info = members[name]
            if part.kind == "file":
                files[part.thread][name] = self._rollout(name, info, part, entries[part.thread])
            else:
                loaded[part.thread][part.kind] = self._json_part(name, info, part)
        threads = []
        for tid, entry in entries.items():
            by_name = files[tid]
            threads.append(BundledThread(
                tid, {k: sql_from_json(v) for k, v in loaded[tid]["row.json"].items()},
                [by_name[f"threads/{tid}/files/{f['name']}"] for f in entry["files"]],
                _decoded_history(loaded[tid]["history.json"]), loaded[tid]["index.json"],
                list(entry.get("undecodable_columns", []))))
        return Bundle(manifest["source"], threads, manifest["left_out"])

    # -- the zip's members, before any is inflated

    def _members(self) -> dict[str, zipfile.ZipInfo]:
        members: dict[str, zipfile.ZipInfo] = {}
        for info in self.archive.infolist():
            name = info.orig_filename
            mode = info.external_attr >> 16  # Unix mode; many zip writers leave the file type bits 0
            folder = name.endswith("/") or stat.S_ISDIR(mode)  # not info.is_dir(): an empty name breaks it
            if folder or stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                kind = "a symlink" if stat.S_ISLNK(mode) else "a folder" if folder else "not a regular file"
                raise self.refuse(name, "not_a_regular_file", f"is {kind}")
            problem = unsafe_name_problem(name)
            if problem:
                raise self.refuse(name, "unsafe_name", f"has an unsafe name: {problem}")
            if name in members:
                raise self.refuse(name, "duplicate_member", "is in the zip more than once")
            if info.flag_bits & 0x1:
                raise self.refuse(name, "encrypted", "is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.refuse(name, "compression_method",
                                  f"uses compression method {info.compress_type} (only stored or deflated)")
            members[name] = info
        return members

    # -- the manifest

    def _manifest(self, info: zipfile.ZipInfo) -> dict[str, Any]:
        if info.file_size > MAX_MANIFEST:
            raise self.refuse(MANIFEST, "manifest_too_large", f"is {info.file_size} bytes (at most {MAX_MANIFEST})")
        data = self._whole(MANIFEST, info, MAX_MANIFEST, exact=False)
        try:
            manifest = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise self.refuse(MANIFEST, "manifest_not_json", f"is not JSON ({exc})") from None
        try:
            _ManifestSchema(self).check(manifest)
        except _SchemaError as exc:
            raise self.refuse(MANIFEST, exc.rule, str(exc)) from None
        return manifest  # type: ignore[no-any-return]

    def _parts(self, manifest: dict[str, Any]) -> dict[str, _Part]:
        """Every listed part, of a known kind, for a thread the manifest lists; none missing."""
        version = manifest["version"]
        expected: dict[str, tuple[str, str, int | None]] = {}
        for entry in manifest["threads"]:
            base = f"threads/{entry['id']}"
            for kind in JSON_PARTS:
                expected[f"{base}/{kind}"] = (kind, entry["id"], None)
            for f in entry["files"]:
                expected[f"{base}/files/{f['name']}"] = ("file", entry["id"], f["size"])
        parts: dict[str, _Part] = {}
        for name, declared in manifest["parts"].items():
            problem = unsafe_name_problem(name)
            if problem:
                raise self.refuse(name, "unsafe_name", f"has an unsafe name: {problem}")
            if name not in expected:
                raise self.refuse(name, "unknown_part", "is of no kind a bundle has (row.json, history.json, "
                                                        "index.json, or a file the manifest's threads list)")
            kind, thread, file_size = expected[name]
            sha, size = (declared["sha256"], declared["size"]) if version >= 2 else (declared, file_size)
            if kind == "file" and size != file_size:
                raise self.refuse(name, "size_mismatch", f"is declared as {size} bytes in parts and "
                                                         f"{file_size} in threads")
            if kind != "file" and size is not None and size > MAX_JSON_PART:
                raise self.refuse(name, "part_too_large", f"is declared as {size} bytes (at most {MAX_JSON_PART})")
            parts[name] = _Part(kind, thread, size, sha)
        for name in expected:
            if name not in parts:
                raise self.refuse(name, "missing_part", "is not listed in the manifest's parts")
        return parts

    # -- the parts, streamed

    def _stream(self, name: str, info: zipfile.ZipInfo, limit: int, *, exact: bool) -> Iterator[bytes]:
        """The member in chunks, never inflated past `limit` (its declared size)."""
        if info.file_size > limit or (exact and info.file_size != limit):
            raise self.refuse(name, "size_mismatch", f"is {info.file_size} bytes in the zip, declared as {limit}")
        total = 0
        try:
            with self.archive.open(info) as member:
                while chunk := member.read(READ_CHUNK):
                    total += len(chunk)
                    if total > limit:
                        raise self.refuse(name, "inflates_past_declared_size",
                                          f"inflates past its declared {limit} bytes")
                    yield chunk
        except ZIP_ERRORS as exc:
            raise self.refuse(name, "damaged", f"cannot be inflated ({exc}); the bundle is damaged") from None
        if exact and total != limit:
            raise self.refuse(name, "size_mismatch", f"is {total} bytes, declared as {limit}")

    def _whole(self, name: str, info: zipfile.ZipInfo, limit: int, *, exact: bool, sha: str | None = None) -> bytes:
        data = bytearray()
        digest = hashlib.sha256()
        for chunk in self._stream(name, info, limit, exact=exact):
            digest.update(chunk)
            data += chunk
        if sha is not None and digest.hexdigest() != sha:
            raise self._sha_refusal(name)
        return bytes(data)

    def _sha_refusal(self, name: str) -> BundleRefused:
        return self.refuse(name, "sha256", "fails its sha256 (the bundle is damaged or was changed)")

    def _json_part(self, name: str, info: zipfile.ZipInfo, part: _Part) -> Any:
        limit = part.size if part.size is not None else MAX_JSON_PART
        data = self._whole(name, info, limit, exact=part.size is not None, sha=part.sha256)
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise self.refuse(name, "part_not_json", f"is not JSON ({exc})") from None
        problem: Problem | None
        if part.kind == "row.json":
            problem = row_problem(value, part.thread)
        elif part.kind == "history.json":
            problem = history_problem(value, part.thread)
        else:
            problem = index_problem(value, part.thread)
        if problem:
            raise self.refuse(name, problem.rule, problem.reason)
        return value

    def _rollout(self, name: str, info: zipfile.ZipInfo, part: _Part, entry: dict[str, Any]) -> BundledFile:
        """Hashed in one streamed pass that also keeps the first line (a .zst is inflated again,
        up to its first line only); the bytes themselves are not kept."""
        assert part.size is not None
        file = next(f for f in entry["files"] if f"threads/{part.thread}/files/{f['name']}" == name)
        compressed = file["name"].endswith(".zst")
        digest, head, line = hashlib.sha256(), bytearray(), None
        for chunk in self._stream(name, info, part.size, exact=True):
            digest.update(chunk)
            if compressed or line is not None:
                continue
            newline = chunk.find(b"\n")
            head += chunk if newline < 0 else chunk[:newline]
            if newline >= 0:
                line = bytes(head)
            if len(head) > FIRST_LINE_LIMIT:
                raise self.refuse(name, "first_line", f"has no line end in its first {FIRST_LINE_LIMIT} bytes")
        if digest.hexdigest() != part.sha256:
            raise self._sha_refusal(name)
        if compressed:
            line = self._compressed_first_line(name, info)
        elif line is None:
            line = bytes(head)  # one line, no line end
        problem = first_line_problem(line.rstrip(b"\r") if line is not None else None, part.thread, file["name"])
        if problem:
            raise self.refuse(name, problem.rule, problem.reason)
        return BundledFile(file["name"], file["archived"], file["mtime_ns"], part.size, part.sha256,
                           self._member_chunks(name, info, part.size))

    def _compressed_first_line(self, name: str, info: zipfile.ZipInfo) -> bytes | None:
        try:
            with self.archive.open(info) as member:
                decompressor = zstandard.ZstdDecompressor(max_window_size=MAX_ZSTD_WINDOW)
                reader = decompressor.stream_reader(member, read_size=READ_CHUNK)
                with io.BufferedReader(reader, READ_CHUNK) as lines:
                    line = lines.readline(FIRST_LINE_LIMIT + 1)
        except ZIP_ERRORS:
            return None
        if len(line) > FIRST_LINE_LIMIT:
            return None
        return line.rstrip(b"\r\n")

    def _member_chunks(self, name: str, info: zipfile.ZipInfo, size: int) -> Callable[[], Iterator[bytes]]:
        return lambda: self._stream(name, info, size, exact=True)


def _decoded_history(history: dict[str, Any]) -> dict[str, Any]:
    state = history["projection_state"]
    return {"projection_state": None if state is None else {k: sql_from_json(v) for k, v in state.items()},
            "turns": [{k: sql_from_json(v) for k, v in turn.items()} for turn in history["turns"]]}


class _SchemaError(Exception):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


class _ManifestSchema:
    """The manifest, strictly: every key required or optional by name, every value its type."""

    SOURCE = {"codex_home": (str,), "path_style": (str,), "codex_version_guess": (str, type(None)),
              "state_migration": (int, type(None)), "history_migration": (int, type(None)),
              "current_provider": (str, type(None))}

    def __init__(self, checker: _Checker) -> None:
        self.checker = checker

    def fail(self, where: str, what: str, rule: str = "manifest_schema") -> _SchemaError:
        return _SchemaError(rule, f"at {where}: {what}")

    def object(self, value: Any, where: str, required: set[str], optional: frozenset[str] = frozenset()) -> None:
        if not isinstance(value, dict):
            raise self.fail(where, f"is {_kind(value)}, not an object")
        missing = sorted(required - value.keys())
        if missing:
            raise self.fail(where, f"lacks {', '.join(missing)}")
        unknown = sorted(str(k) for k in value.keys() - required - optional)
        if unknown:
            raise self.fail(where, f"has keys a bundle never has: {', '.join(unknown)}")

    def as_list(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, f"is {_kind(value)}, not a list")
        return value

    def typed(self, value: Any, where: str, types: tuple[type, ...]) -> None:
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            names = " or ".join(_TYPE_NAMES[t] for t in types)
            raise self.fail(where, f"is {_kind(value)}, not {names}")

    def count(self, value: Any, where: str) -> None:
        self.typed(value, where, (int,))
        if not 0 <= value <= INT64[1]:
            raise self.fail(where, f"is {value}, not between 0 and {INT64[1]}")

    def check(self, m: Any) -> None:
        self.object(m, "the top", {"format", "version", "source", "threads", "left_out", "parts"})
        if m["format"] != FORMAT:
            raise self.fail("format", f"is {m['format']!r}, not {FORMAT!r}", "format")
        if isinstance(m["version"], bool) or m["version"] not in READABLE_VERSIONS:
            raise self.fail("version", f"is {m['version']!r}; this tool reads versions "
                                       f"{', '.join(map(str, READABLE_VERSIONS))}", "format")
        version = m["version"]
        self.object(m["source"], "source", set(self.SOURCE))
        for key, types in self.SOURCE.items():
            self.typed(m["source"][key], f"source.{key}", types)
        if m["source"]["path_style"] not in ("posix", "windows"):
            raise self.fail("source.path_style", "is neither posix nor windows")
        self.threads(self.as_list(m["threads"], "threads"), version)
        for i, item in enumerate(self.as_list(m["left_out"], "left_out")):
            self.object(item, f"left_out[{i}]", {"id", "reason"})
            self.typed(item["id"], f"left_out[{i}].id", (str,))
            self.typed(item["reason"], f"left_out[{i}].reason", (str,))
        if not isinstance(m["parts"], dict):
            raise self.fail("parts", f"is {_kind(m['parts'])}, not an object")
        for name, declared in m["parts"].items():
            where = f"parts[{name!r}]"
            if version == 1:
                self.sha(declared, where)
            else:
                self.object(declared, where, {"sha256", "size"})
                self.sha(declared["sha256"], f"{where}.sha256")
                self.count(declared["size"], f"{where}.size")

    def sha(self, value: Any, where: str) -> None:
        self.typed(value, where, (str,))
        if not SHA256_RE.fullmatch(value):
            raise self.fail(where, "is not a sha256 in lowercase hex")

    def threads(self, threads: list[Any], version: int) -> None:
        seen: set[str] = set()
        for i, entry in enumerate(threads):
            where = f"threads[{i}]"
            self.object(entry, where, {"id", "files"} | ({"undecodable_columns"} if version >= 2 else set()))
            problem = thread_id_problem(entry["id"])
            if problem:
                raise self.fail(f"{where}.id", problem.reason, problem.rule)
            if entry["id"] in seen:
                raise self.fail(f"{where}.id", f"{entry['id']} is listed twice", "duplicate_thread")
            seen.add(entry["id"])
            files = self.as_list(entry["files"], f"{where}.files")
            if not files:
                raise self.fail(f"{where}.files", "is empty")
            names: set[str] = set()
            for j, f in enumerate(files):
                at = f"{where}.files[{j}]"
                self.object(f, at, {"name", "archived", "mtime_ns", "size"})
                self.typed(f["name"], f"{at}.name", (str,))
                problem = file_name_problem(f["name"], entry["id"])
                if problem:
                    raise self.fail(f"{at}.name", problem.reason, problem.rule)
                if f["name"] in names:
                    raise self.fail(f"{at}.name", f"{f['name']} is listed twice", "duplicate_file")
                names.add(f["name"])
                self.typed(f["archived"], f"{at}.archived", (bool,))
                self.count(f["mtime_ns"], f"{at}.mtime_ns")
                self.count(f["size"], f"{at}.size")
            for j, column in enumerate(self.as_list(entry.get("undecodable_columns", []),
                                                 f"{where}.undecodable_columns")):
                self.typed(column, f"{where}.undecodable_columns[{j}]", (str,))


_TYPE_NAMES = {str: "text", int: "an integer", bool: "true or false", type(None): "null"}


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "text", list: "a list",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)
